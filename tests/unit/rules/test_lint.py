"""`citywatch rules lint`: every problem class gives its file:line:col message; clean files exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citywatch.rule_engine.loader import load_paths
from citywatch.site_registry import Registry, load_registry
from tools.cli import app
from tools.devstack.config import REPO_ROOT

REGISTRY = REPO_ROOT / "registry" / "wujiang-sample.yaml"

RULE = """\
rules:
  - id: {id}
    description: d
    indicator: {indicator}
{body}    severity: warning
    department: environment
    source: s
"""


def rule(
    id: str = "r1", indicator: str = "air.pm25.mean_24h", body: str = '    condition: {op: ">", value: 75}\n'
) -> str:
    return RULE.format(id=id, indicator=indicator, body=body)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(REGISTRY)


def lint(tmp_path: Path, registry: Registry, **files: str) -> list[str]:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return [str(p).removeprefix(f"{tmp_path}/") for p in sorted(load_paths([tmp_path], registry).problems)]


CASES = {
    "yaml-syntax": (
        "rules:\n  - id: a\n    description: [unclosed\n",
        "f.yaml:4:1: YAML syntax: expected ',' or ']', but got '<stream end>'",
    ),
    "unknown-indicator": (
        rule(indicator="air.pm99"),
        "f.yaml:4:16: unknown indicator 'air.pm99': not in the indicator catalogue; did you mean 'air.pm25.1h'?",
    ),
    "unknown-field": (
        rule(body='    condition: {op: ">", value: 75}\n    colour: red\n'),
        "f.yaml:6:5: unknown field 'colour'",
    ),
    "bad-operator": (
        rule(body='    condition: {op: "=>", value: 75}\n'),
        "f.yaml:5:21: bad operator '=>': expected one of >, >=, <, <=",
    ),
    "missing-threshold": (
        rule(body='    condition: {op: ">"}\n'),
        "f.yaml:5:16: missing threshold: give one of `value`, `limit`, `target`, `section_target` or `status`",
    ),
    "missing-condition": (
        rule(body=""),
        "f.yaml:2:5: missing threshold: a rule of kind threshold needs a `condition`",
    ),
    "unit-mismatch-limit": (
        rule(
            indicator="air.aqi.realtime",
            body='    condition:\n      op: ">"\n      limit: {standard: GB 3095, pollutant: pm25, period: 24h}\n',
        ),
        "f.yaml:7:14: unit mismatch: the GB 3095 limit is in µg/m³ but air.aqi.realtime is in AQI",
    ),
    "unit-mismatch-target": (
        rule(indicator="waste.utilisation.day", body='    condition: {op: "<", target: incineration_capacity}\n'),
        "f.yaml:5:34: unit mismatch: target incineration_capacity is in t/day but waste.utilisation.day is in ratio",
    ),
    "unit-mismatch-value": (
        rule(body='    condition: {op: ">", value: 0.075, unit: mg/m³}\n'),
        "f.yaml:5:46: unit mismatch: the value is in mg/m³ but air.pm25.mean_24h is in µg/m³",
    ),
    "duplicate-key": (
        rule(body='    condition: {op: ">", value: 75}\n    condition: {op: ">", value: 80}\n'),
        "f.yaml:6:5: duplicate key 'condition' (first at line 5)",
    ),
    "unknown-site": (
        rule(body='    scope:\n      sites: [wj-songling, wj-atlantis]\n    condition: {op: ">", value: 75}\n'),
        "f.yaml:6:28: unknown site 'wj-atlantis': not in the registry",
    ),
    "clear-wrong-level": (
        rule(body='    condition: {op: ">", value: 75}\n    clear: {op: "<", value: 80}\n'),
        "f.yaml:6:29: clear condition on the wrong side: the clear level 80 is above the threshold 75 "
        "(on 2021-01-01), so one value would both fire and clear",
    ),
    "clear-wrong-direction": (
        rule(body='    condition: {op: ">", value: 75}\n    clear: {op: ">", value: 70}\n'),
        "f.yaml:6:17: clear condition on the wrong side: the condition fires on `>`, so `clear` needs < or <=",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_class_is_reported_at_its_position(tmp_path: Path, registry: Registry, case: str) -> None:
    text, expected = CASES[case]
    assert lint(tmp_path, registry, f=text) == [expected]


def test_the_clear_side_is_checked_on_each_version_of_a_limit(tmp_path: Path, registry: Registry) -> None:
    # A literal clear level of 65 is under 75 (GB 3095-2012) but above 60 (GB 3095-2026 transition).
    body = (
        '    condition:\n      op: ">"\n      limit: {standard: GB 3095, pollutant: pm25, period: 24h}\n'
        '    clear: {op: "<", value: 65}\n'
    )
    assert lint(tmp_path, registry, f=rule(body=body)) == [
        "f.yaml:8:29: clear condition on the wrong side: the clear level 65 is above the threshold 60 "
        "(on 2026-03-01), so one value would both fire and clear"
    ]


def test_duplicate_ids_are_found_across_files(tmp_path: Path, registry: Registry) -> None:
    assert lint(tmp_path, registry, a=rule(id="same"), b=rule(id="same")) == [
        f"b.yaml:2:9: duplicate rule id 'same' (first at {tmp_path}/a.yaml:2:9)"
    ]


def test_every_problem_of_a_file_is_listed(tmp_path: Path, registry: Registry) -> None:
    text = "".join(
        [
            rule(id="a", indicator="air.pm99"),
            rule(id="b", body='    condition: {op: "=>", value: 75}\n').removeprefix("rules:\n"),
            rule(id="c", body='    condition: {op: ">", value: 75}\n    clear: {op: "<", value: 80}\n').removeprefix(
                "rules:\n"
            ),
        ]
    )
    problems = lint(tmp_path, registry, f=text)
    assert [p.split(": ", 1)[0] for p in problems] == ["f.yaml:4:16", "f.yaml:12:21", "f.yaml:20:29"]


def test_selectors_departments_templates_and_kinds_are_checked(tmp_path: Path, registry: Registry) -> None:
    text = """\
rules:
  - id: r1
    description: d
    kind: water_class
    indicator: water.class.month
    scope:
      match: {level: international}
    condition: {op: ">", section_target: true}
    severity: warning
    department: fisheries
    source: s
    annotations:
      summary: "{site} is {colour}"
  - id: r2
    description: d
    kind: share_below_target
    indicator: air.pm25.mean_24h
    condition: {op: ">", value: 75}
    severity: warning
    department: environment
    source: s
"""
    problems = lint(tmp_path, registry, f=text)
    assert any(p.startswith("f.yaml:7:14: the selector matches no water site") for p in problems)
    assert any(p.startswith("f.yaml:10:17: unknown department 'fisheries'") for p in problems)
    assert any(p.startswith("f.yaml:13:16: unknown template field {colour}") for p in problems)
    assert "f.yaml:17:16: a share rule needs a ratio indicator; air.pm25.mean_24h is in µg/m³" in problems
    assert "f.yaml:18:21: a share-below-target rule fires on `<` or `<=`" in problems


def test_the_shipped_rules_are_clean_and_the_cli_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "lint", str(REPO_ROOT / "rules"), "--registry", str(REGISTRY)])
    assert result.exit_code == 0, result.output


def test_the_cli_prints_file_line_col_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(rule(indicator="air.pm99"), encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "lint", str(bad), "--registry", str(REGISTRY)])
    assert result.exit_code == 1
    assert f"{bad}:4:16: unknown indicator 'air.pm99'" in result.output


def test_bad_choices_durations_kinds_and_templates(tmp_path: Path, registry: Registry) -> None:
    text = """\
rules:
  - id: k1
    description: d
    indicator: air.pm25.mean_24h
    condition: {op: ">", value: 75}
    for: an hour
    severity: loud
    department: environment
    source: s
  - id: k2
    description: d
    kind: staleness
    indicator: air.pm25.1h
    severity: info
    department: environment
    source: s
  - id: k3
    description: d
    kind: attainment
    indicator: air.pm25.attainment
    condition: {status: [off-track]}
    clear: {status: [off-track, on-track]}
    severity: info
    warm_up: {min_samples: 90, why: w}
    department: environment
    source: s
    annotations: {summary: "{value:.2f"}
"""
    assert lint(tmp_path, registry, f=text) == [
        "f.yaml:6:10: expected a duration like 15m, 1h or 2d, got 'an hour'",
        "f.yaml:7:15: bad severity 'loud': input should be 'info', 'warning' or 'critical'",
        "f.yaml:10:5: a rule of kind staleness needs `staleness`",
        "f.yaml:22:21: clear condition on the wrong side: status off-track both fires and clears",
        "f.yaml:27:28: bad template: unmatched '{' in format spec",
    ]


def test_the_severity_model_is_checked(tmp_path: Path, registry: Registry) -> None:
    text = """\
rules:
  - id: ytd-critical
    description: d
    indicator: air.pm25.annual_mean_ytd
    condition: {op: ">", value: 35}
    severity: critical
    department: environment
    source: s
  - id: share-called-exceedance
    description: d
    kind: share_below_target
    indicator: air.city.good_day_share_ytd
    purpose: exceedance
    condition: {op: "<", value: 0.8}
    severity: warning
    warm_up: {min_samples: 60, why: w}
    department: environment
    source: s
  - id: limit-warming-up
    description: d
    indicator: air.pm25.mean_24h
    condition: {op: ">", value: 75}
    severity: warning
    warm_up: {min_samples: 3, why: w}
    department: environment
    source: s
  - id: grade-a
    description: d
    kind: attainment
    family: grades
    indicator: air.pm25.attainment
    condition: {status: [at-risk, off-track]}
    severity: info
    warm_up: {min_samples: 90, why: w}
    department: environment
    source: s
  - id: grade-b
    description: d
    kind: attainment
    family: grades
    indicator: air.pm25.attainment
    condition: {status: [off-track]}
    severity: warning
    warm_up: {min_samples: 90, why: w}
    department: environment
    source: s
  - id: grade-c
    description: d
    family: grades
    indicator: air.pm25.mean_24h
    condition: {op: ">", value: 75}
    severity: warning
    department: environment
    source: s
"""
    problems = lint(tmp_path, registry, f=text)
    assert any(p.startswith("f.yaml:6:15: a plan-tracking rule is warning or info") for p in problems), problems
    assert any(p.startswith("f.yaml:4:16: air.pm25.annual_mean_ytd is a figure of the period so far") for p in problems)
    assert any(p.startswith("f.yaml:13:14: a share_below_target rule on air.city.good_day_share_ytd") for p in problems)
    assert any(p.startswith("f.yaml:24:14: `warm_up` is for plan-tracking rules") for p in problems), problems
    assert any("grade-b and grade-a both fire on status off-track" in p for p in problems), problems
    assert any("family 'grades': grade-c judges air.pm25.mean_24h (exceedance)" in p for p in problems), problems
