"""Every panel's query, with its template variables filled in, returns citywatch series from the real Prometheus.

Run it once the stack has data for every indicator (worker emitting all of them, simulator running for a while): it
reads what is there and starts nothing itself besides the session stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from citywatch import dashboards
from citywatch.cli.dashboards import DEFAULT_REGISTRY
from citywatch.dashboards import walk
from citywatch.devstack.config import REPO_ROOT, StackConfig
from citywatch.registry import load_registry

pytestmark = pytest.mark.integration

# Grafana's own interval variables, at values that cover a few scrapes and rule evaluations.
BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__interval_ms": "60000", "__range": "1h", "__range_s": "3600"}
CITYWATCH_LABELS = frozenset(
    [
        "site",
        "feed",
        "department",
        "alertname",
        "alertstate",
        "severity",
        "topic",
        "rule",
        "outcome",
        "status",
        "window",
    ]
)


def variable_values(feeds: tuple[str, ...]) -> dict[str, str]:
    """What Grafana puts in for "All": every department, every site of the dashboard's feeds, every feed."""
    registry = load_registry(DEFAULT_REGISTRY)
    return {
        "department": "|".join(d.id for d in registry.departments),
        "site": "|".join(s.id for s in registry.all_sites() if s.feed in feeds),
        "feed": ".+",
        **BUILTINS,
    }


def panel_queries() -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL with every template variable substituted) for every committed panel."""
    for module in dashboards.MODULES:
        path = REPO_ROOT / dashboards.DASHBOARDS_DIR / f"{module.UID}.json"
        board: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        values = variable_values(getattr(module, "FEEDS", ()))
        for q in walk.queries(board):
            yield board["uid"], q.panel, walk.substitute(q.expr, values)


def _is_citywatch(series: Mapping[str, str]) -> bool:
    name = series.get("__name__", "")
    return "citywatch_" in name or bool(CITYWATCH_LABELS & series.keys())


QUERIES = list(panel_queries())


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"), QUERIES, ids=[f"{d}/{p}/{i}" for i, (d, p, _) in enumerate(QUERIES)]
)
def test_panel_query_returns_citywatch_series(stack: StackConfig, dashboard: str, panel: str, expr: str) -> None:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    assert response.status_code == 200, f"{dashboard} / {panel}: {response.status_code} {response.text}\n{expr}"
    body = response.json()
    assert body["status"] == "success", f"{dashboard} / {panel}: {body}\n{expr}"
    result = body["data"]["result"]
    assert result, f"{dashboard} / {panel}: no series for\n{expr}"
    assert any(_is_citywatch(series["metric"]) for series in result), (
        f"{dashboard} / {panel}: no citywatch series in {result[:3]}\n{expr}"
    )
