"""`citywatch keys create` makes keys only for departments of the site registry (no Redis needed to refuse)."""

from __future__ import annotations

from typer.testing import CliRunner

from tools.cli import app


def test_keys_are_only_made_for_departments_of_the_registry() -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--department", "nosuch"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "no department 'nosuch' in the site registry; known: environment, transport, urban-management" in text
