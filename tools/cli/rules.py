"""`citywatch rules lint|test|schema`: check rule files, run rule unit tests, print the rule file JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citywatch.site_registry import Registry, RegistryError, load_registry

rules_app = typer.Typer(help="Plan rules: lint rule files, run rule unit tests, print the JSON Schema.")

RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry", help="Site registry YAML (default: CITYWATCH_REGISTRY_FILE, registry/wujiang-sample.yaml)"
    ),
]


def _registry(path: Path | None) -> Registry:
    from citywatch.settings import CommonSettings

    file = path or Path(CommonSettings().registry_file)
    try:
        return load_registry(file)
    except OSError as exc:
        typer.echo(f"{file}: cannot read the registry: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=2) from None
    except RegistryError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(code=2) from None


@rules_app.command("lint")
def lint_command(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or directories of them")],
    registry: RegistryOption = None,
) -> None:
    """Check rule files; print every problem as file:line:col: message. Exit 1 when there is any."""
    from citywatch.rule_engine.loader import load_paths

    loaded = load_paths(paths, _registry(registry))
    for problem in sorted(loaded.problems):
        typer.echo(str(problem))
    if loaded.problems:
        typer.echo(f"{len(loaded.problems)} problem(s)", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"{len(loaded.rules)} rule(s), no problems", err=True)


@rules_app.command("test")
def test_command(
    files: Annotated[list[Path], typer.Argument(help="Rule test files (YAML)")],
    registry: RegistryOption = None,
) -> None:
    """Run rule unit tests: input series in, expected alerts out at given times. Exit 1 when any fails."""
    from citywatch.rule_engine.testing import run_test_file

    reg = _registry(registry)
    failed = 0
    for file in files:
        result = run_test_file(file, reg)
        if result.passed:
            typer.echo(f"{file}: SUCCESS ({result.cases} test case(s))")
            continue
        failed += 1
        typer.echo(f"{file}: FAILED")
        for failure in result.failures:
            typer.echo(f"  {failure}")
    if failed:
        raise typer.Exit(code=1)


@rules_app.command("schema")
def schema_command() -> None:
    """Print the rule file JSON Schema (rules/rule.schema.json is this output)."""
    from citywatch.rule_engine.schema import rule_file_schema_text

    typer.echo(rule_file_schema_text(), nl=False)


def register(app: typer.Typer) -> None:
    """Add `citywatch rules ...` to the top-level app."""
    app.add_typer(rules_app, name="rules")
