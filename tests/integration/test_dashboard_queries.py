"""Every panel's query, with its template variables filled in, returns citywatch series from the real Prometheus.

Run it once the stack has data for every indicator (worker emitting all of them, simulator running for a while): it
reads what is there and starts nothing itself besides the session stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from citywatch import dashboards
from citywatch.cli.dashboards import DEFAULT_REGISTRY
from citywatch.dashboards import walk
from citywatch.devstack.config import REPO_ROOT, StackConfig
from citywatch.registry import load_registry
from tests.conftest import Isolation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

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
        "target",
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
SIMULATED_DAYS = 29


def _answers(stack: StackConfig, expr: str) -> bool:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    return response.status_code == 200 and bool(response.json()["data"]["result"])


@pytest.fixture(scope="module")
def pipeline(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """Gateway, worker, alert service and simulator of one isolation, until every panel's query has an answer
    (or a deadline passes: the tests then name the panels without one)."""
    iso = Isolation(stack, tmp_path_factory.mktemp("dashboards"))
    try:
        iso.ensure_topics(partitions=2)
        ingest = iso.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
        iso.start("worker", "CITYWATCH_WORKER_WEB_PORT")
        iso.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
        registry = load_registry(DEFAULT_REGISTRY)
        keys_file = iso.tmp_path / "simulator-keys.json"
        keys_file.write_text(json.dumps({d.id: iso.api_key(d.id) for d in registry.departments}))
        iso.start(
            "simulate",
            "CITYWATCH_SIMULATOR_METRICS_PORT",
            CITYWATCH_INGEST_URL=f"http://127.0.0.1:{ingest.metrics_port}",
            CITYWATCH_SIMULATOR_KEYS_FILE=str(keys_file),
            args=("--days-back", str(SIMULATED_DAYS), "--speed", "max", "--seed", "7"),
        )
        deadline = time.monotonic() + 240
        pending = [expr for _, _, expr in QUERIES]
        while pending and time.monotonic() < deadline:
            pending = [expr for expr in pending if not _answers(stack, expr)]
            time.sleep(5)
        yield stack
    finally:
        iso.close()


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"), QUERIES, ids=[f"{d}/{p}/{i}" for i, (d, p, _) in enumerate(QUERIES)]
)
def test_panel_query_returns_citywatch_series(pipeline: StackConfig, dashboard: str, panel: str, expr: str) -> None:
    stack = pipeline
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    assert response.status_code == 200, f"{dashboard} / {panel}: {response.status_code} {response.text}\n{expr}"
    body = response.json()
    assert body["status"] == "success", f"{dashboard} / {panel}: {body}\n{expr}"
    result = body["data"]["result"]
    assert result, f"{dashboard} / {panel}: no series for\n{expr}"
    assert any(_is_citywatch(series["metric"]) for series in result), (
        f"{dashboard} / {panel}: no citywatch series in {result[:3]}\n{expr}"
    )
