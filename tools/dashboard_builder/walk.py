"""Read generated dashboard JSON back: panels, their PromQL, the metrics it names, variables and their substitution.

Used by the tests (every panel has a query, every metric exists, every variable is used) and by the integration test
that runs each panel's query against a real Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# PromQL words that look like metric names but are not.
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")

GRAFANA_BUILTINS = frozenset({"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"})


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # uid
    panel: str  # title
    ref: str
    expr: str


def panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every panel that shows data (rows are walked into, not returned)."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panels(panel)
        else:
            yield panel


def queries(board: Mapping[str, Any]) -> Iterator[PanelQuery]:
    for panel in panels(board):
        for target in panel.get("targets") or []:
            yield PanelQuery(board["uid"], panel.get("title", ""), target.get("refId", ""), target.get("expr", ""))


def variables(board: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def variable_query(variable: Mapping[str, Any]) -> str:
    q = variable.get("query", "")
    return q if isinstance(q, str) else str(q.get("query", ""))


def variable_metric_names(query: str) -> set[str]:
    """The metrics a Prometheus variable query reads: `label_values(SELECTOR, label)` or `query_result(EXPR)`."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.DOTALL)
    if label_values:
        return metric_names(label_values.group(1))
    query_result = re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.DOTALL)
    return metric_names(query_result.group(1) if query_result else query)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, ranges and grouping lists removed)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    return {
        name for name in _IDENT.findall(text) if name.lower() not in _KEYWORDS and not re.fullmatch(r"[\d.e+-]+", name)
    }


def variables_used(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace `$name` / `${name}` by `values[name]`; an unknown variable is an error."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(one, expr)
