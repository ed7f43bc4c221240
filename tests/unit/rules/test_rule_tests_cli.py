"""`citywatch rules test`: passing files exit 0; a wrong expectation fails with the rule, time and both sides."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from citywatch.rule_engine.testing import expand_statuses, expand_values
from tools.cli import app
from tools.devstack.config import REPO_ROOT

REGISTRY = str(REPO_ROOT / "registry" / "wujiang-sample.yaml")

TEST = """\
rule_files: [{rules}]
registry: {registry}
tests:
  - name: hysteresis
    start: 2025-01-10T00:00:00+08:00
    interval: 1h
    input_series:
      - {{indicator: air.pm25.mean_24h, site: wj-songling, values: "70 76 74"}}
    alert_rule_test:
      - {{eval_time: 2h, rule: air-pm25-24h-grade2, alerts: [{{site: wj-songling, state: {state}}}]}}
"""


def write(tmp_path: Path, state: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(TEST.format(rules=REPO_ROOT / "rules" / "air.yaml", registry=REGISTRY, state=state))
    return path


def test_a_passing_file_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(write(tmp_path, "firing"))])
    assert result.exit_code == 0, result.output
    assert "SUCCESS (1 test case(s))" in result.output


def test_a_failing_expectation_exits_1_and_says_what_differs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(write(tmp_path, "resolved"))])
    assert result.exit_code == 1
    assert (
        "hysteresis: rule air-pm25-24h-grade2 at eval_time 2h: expected [wj-songling resolved], "
        "got [wj-songling firing]" in result.output
    )


def test_the_shipped_test_files_pass_from_the_cli() -> None:
    files = sorted(str(p) for p in (REPO_ROOT / "rules" / "tests").glob("*.yaml"))
    result = CliRunner().invoke(app, ["rules", "test", *files, "--registry", REGISTRY])
    assert result.exit_code == 0, result.output


def test_promtool_value_notation() -> None:
    assert expand_values("1+2x3 _ 5x2 _x2 -1") == [1, 3, 5, 7, None, 5, 5, 5, None, None, -1]
    assert expand_values("10-1x2") == [10, 9, 8]
    assert expand_statuses("on-track at-riskx1 _") == ["on-track", "at-risk", "at-risk", None]
