"""Rule kinds are classes found by name once (citywatch/rule_engine/kinds.py): every kind the rule schema allows has one, and
no module decides by comparing a rule's kind with a name."""

from __future__ import annotations

import ast
from typing import get_args

import pytest

from citywatch.rule_engine.kinds import KINDS, RuleKind
from citywatch.rule_engine.model import Kind, Rule
from tools.devstack.config import REPO_ROOT

BASE = {"id": "r", "description": "a rule", "severity": "warning", "department": "environment", "source": "test"}


def test_every_kind_the_schema_allows_has_its_class_and_no_other() -> None:
    assert sorted(KINDS) == sorted(get_args(Kind))
    assert all(isinstance(kind, RuleKind) and kind.name == name for name, kind in KINDS.items())


def test_no_module_compares_a_rule_kind_with_a_name() -> None:
    names = set(KINDS)
    found = []
    for package in ("citywatch", "services", "streams", "tools"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Compare):
                    continue
                sides = [node.left, *node.comparators]
                reads_kind = any(isinstance(side, ast.Attribute) and side.attr == "kind" for side in sides)
                named = any(isinstance(side, ast.Constant) and side.value in names for side in sides)
                if reads_kind and named:
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert found == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "window", "indicator": "air.aqi.realtime", "condition": {"op": ">", "value": 1}}, "needs `window`"),
        (
            {
                "kind": "threshold",
                "indicator": "air.aqi.realtime",
                "condition": {"op": ">", "value": 1},
                "staleness": {"after": "4h"},
            },
            "`staleness` is not used by a rule of kind threshold",
        ),
        (
            {
                "kind": "staleness",
                "indicator": "air.pm25.1h",
                "staleness": {"after": "4h"},
                "condition": {"op": ">", "value": 1},
            },
            "takes no `condition`",
        ),
        ({"kind": "attainment", "indicator": "air.aqi.realtime", "condition": {"op": ">", "value": 1}}, "`status`"),
        ({"kind": "water_class", "indicator": "air.aqi.realtime", "condition": {"op": ">", "value": 1}}, "section"),
    ],
)
def test_a_kind_refuses_the_blocks_and_conditions_it_does_not_read(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rule.model_validate({**BASE, **fields})
