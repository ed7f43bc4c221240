"""The shipped rule set: lint-clean, every rule tested and sourced, the committed JSON Schema up to date."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from citywatch.rule_engine.loader import load_paths, load_rules
from citywatch.rule_engine.model import Rule
from citywatch.rule_engine.schema import rule_file_schema, rule_file_schema_text
from citywatch.rule_engine.testing import rules_expecting_alerts, run_test_file
from citywatch.site_registry import load_registry
from tools.devstack.config import REPO_ROOT

RULES = REPO_ROOT / "rules"
TEST_FILES = sorted((RULES / "tests").glob("*.yaml"))
REGISTRY = load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")


def shipped() -> list[Rule]:
    loaded = load_paths([RULES], REGISTRY)
    assert not loaded.problems, "\n".join(map(str, loaded.problems))
    return loaded.rules


def test_one_rule_file_per_feed() -> None:
    assert {p.name for p in RULES.glob("*.yaml")} == {"air.yaml", "water.yaml", "bus.yaml", "waste.yaml"}


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_rule_unit_tests_pass(test_file: Path) -> None:
    result = run_test_file(test_file, REGISTRY)
    assert result.cases > 0
    assert result.passed, "\n".join(result.failures)


def test_every_shipped_rule_has_a_unit_test_expecting_an_alert() -> None:
    covered = set().union(*(rules_expecting_alerts(f) for f in TEST_FILES))
    assert {r.id for r in shipped()} - covered == set()


def test_every_shipped_rule_cites_its_source_and_links_a_runbook() -> None:
    for rule in shipped():
        assert rule.source.strip(), rule.id
        assert rule.references, f"{rule.id}: cite plan-indicators.md or standards.md"
        assert rule.annotations.get("runbook_url"), f"{rule.id}: no runbook_url"
        assert rule.annotations.get("summary"), f"{rule.id}: no summary"


def test_every_rule_kind_is_shipped() -> None:
    kinds = {r.kind for r in shipped()}
    assert kinds == {
        "threshold",
        "window",
        "water_class",
        "share_below_target",
        "attainment",
        "staleness",
        "rate_of_change",
    }


def test_load_rules_keeps_its_signature_for_the_worker() -> None:
    rules = load_rules(RULES)
    assert [r.id for r in rules] == [r.id for r in shipped()]


def test_the_committed_json_schema_matches_the_model() -> None:
    committed = (RULES / "rule.schema.json").read_text(encoding="utf-8")
    assert committed == rule_file_schema_text(), "regenerate: citywatch rules schema > rules/rule.schema.json"


def test_the_schema_describes_the_rule_language() -> None:
    schema = rule_file_schema()
    rule = json.loads(json.dumps(schema))["$defs"]["Rule"]
    assert rule["additionalProperties"] is False
    for field in ("id", "indicator", "scope", "condition", "clear", "for", "keep_firing_for", "severity", "source"):
        assert field in rule["properties"], field
    assert set(rule["required"]) >= {"id", "description", "indicator", "severity", "department", "source"}


def _as_json(path: Path) -> object:
    # YAML dates become date objects; the schema sees them as the strings they are in the file.
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


@pytest.mark.parametrize("rule_file", sorted(RULES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_rule_files_validate_against_the_committed_schema(rule_file: Path) -> None:
    schema = json.loads((RULES / "rule.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(_as_json(rule_file), schema)


def test_the_schema_rejects_what_the_model_rejects(tmp_path: Path) -> None:
    schema = json.loads((RULES / "rule.schema.json").read_text(encoding="utf-8"))
    base = {"id": "r", "description": "d", "indicator": "air.pm25.mean_24h", "severity": "warning"}
    base |= {"department": "environment", "source": "s", "condition": {"op": ">", "value": 75}, "for": "1h"}
    jsonschema.validate({"rules": [base]}, schema)
    for bad in ({"colour": "red"}, {"for": "an hour"}, {"condition": {"op": "=>", "value": 75}}, {"kind": "vibes"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"rules": [base | bad]}, schema)
