"""The committed dashboards and recording rules are what the code generates, and read back through the SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from typer.testing import CliRunner

from tests.unit.dashboards.conftest import committed_paths
from tools import dashboard_builder as dashboards
from tools.cli import app
from tools.dashboard_builder import in_force, recording
from tools.dashboard_builder.common import Context
from tools.devstack.config import REPO_ROOT


def test_committed_files_equal_the_generated(ctx: Context) -> None:
    assert dashboards.stale(dashboards.generate(ctx), REPO_ROOT) == []


def test_every_committed_dashboard_is_generated(ctx: Context) -> None:
    generated = {f.path for f in dashboards.generate(ctx)}
    assert {f"dashboards/{p.name}" for p in committed_paths()} <= generated


def test_build_check_exits_zero_on_the_committed_tree() -> None:
    result = CliRunner().invoke(app, ["dashboards", "build", "--check"])
    assert result.exit_code == 0, result.output


def test_stale_names_a_changed_and_a_missing_file(ctx: Context, tmp_path: Path) -> None:
    files = dashboards.generate(ctx)
    dashboards.write(files, tmp_path)
    assert dashboards.stale(files, tmp_path) == []
    (tmp_path / files[0].path).write_text(files[0].text.replace("citywatch", "cityw4tch"), encoding="utf-8")
    (tmp_path / files[1].path).unlink()
    assert dashboards.stale(files, tmp_path) == [files[0].path, files[1].path]


@pytest.mark.parametrize("path", committed_paths(), ids=lambda p: p.name)
def test_dashboard_round_trips_through_the_sdk(path: Path) -> None:
    plugins.register_default_plugins()
    text = path.read_text(encoding="utf-8")
    board = Dashboard.from_json(json.loads(text))
    assert dashboards.render_dashboard(board) == text


def test_recording_rules_file_holds_the_rules_the_code_defines() -> None:
    shipped = yaml.safe_load((REPO_ROOT / recording.RULES_FILE).read_text(encoding="utf-8"))
    records = {rule["record"] for group in shipped["groups"] for rule in group["rules"]}
    assert records == recording.recorded_metrics()


def test_recording_rule_names_follow_level_metric_operations() -> None:
    # the limit and target series are base series (a value in force), not aggregations of another metric
    for record in recording.recorded_metrics() - {in_force.LIMIT_METRIC, in_force.TARGET_METRIC}:
        level, metric, operations = record.split(":")
        assert level and metric.startswith("citywatch_") and operations, record


def test_uids_and_panel_ids_are_unique(committed: dict[str, dict[str, Any]]) -> None:
    assert len(committed) == len(dashboards.MODULES)
    for uid, board in committed.items():
        ids = [p["id"] for p in board["panels"]] + [p["id"] for r in board["panels"] for p in r.get("panels", [])]
        assert len(ids) == len(set(ids)), uid
