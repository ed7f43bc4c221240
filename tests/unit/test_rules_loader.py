from pathlib import Path

import pytest

from citywatch.rule_engine.loader import RuleLoadError, load_rules
from tools.devstack.config import REPO_ROOT

GOOD = """
rules:
  - id: r1
    description: d
    indicator: air.pm25.mean_24h
    condition: {op: ">", value: 75}
    severity: warning
    department: environment
    source: GB 3095-2012 Table 1
"""


def test_shipped_rules_load_and_cite_a_source() -> None:
    rules = load_rules(REPO_ROOT / "rules")
    assert rules, "rules/ ships at least one rule"
    assert all(r.source.strip() for r in rules)


def test_every_problem_is_reported_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("air.pm25.mean_24h", "air.pm99").replace(">", "=>"))
    (tmp_path / "c.yaml").write_text("rules: [\n")
    (tmp_path / "d.yaml").write_text(GOOD)  # duplicate id r1
    with pytest.raises(RuleLoadError) as info:
        load_rules(tmp_path)
    text = "\n".join(info.value.problems)
    assert "b.yaml" in text and "unknown indicator 'air.pm99'" in text
    assert "b.yaml: rules.0.condition.op" in text
    assert "c.yaml: YAML syntax" in text
    assert "duplicate rule id 'r1'" in text


def test_a_threshold_needs_exactly_one_of_value_or_limit(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        GOOD.replace("value: 75", "value: 75, limit: {standard: GB 3095, pollutant: pm25, period: 24h}")
    )
    with pytest.raises(RuleLoadError, match="exactly one of `value` or `limit`"):
        load_rules(tmp_path)
