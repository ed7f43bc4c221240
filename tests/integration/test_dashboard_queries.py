"""Every panel's query, with its template variables filled in, returns citywatch series from the real Prometheus.

Run it once the stack has data for every indicator (worker emitting all of them, simulator running for a while): it
reads what is there and starts nothing itself besides the session stack.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.site_registry import load_registry
from citywatch.standards import gb3095_limit
from citywatch.topics import Topics
from tests.conftest import Isolation
from tests.integration.conftest import start_simulator
from tests.integration.kafka_reads import read_indicators_until
from tools import dashboard_builder as dashboards
from tools.cli.dashboards import DEFAULT_REGISTRY
from tools.dashboard_builder import walk
from tools.dashboard_builder.common import THRESHOLD_REF
from tools.devstack.config import REPO_ROOT, StackConfig

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
        "standard",  # limit lines (citywatch_standard_limit)
        "plan",  # target lines (citywatch_plan_target)
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


@dataclass
class Pipeline:
    stack: StackConfig
    isolation: Isolation


@pytest.fixture(scope="module")
def pipeline(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Gateway, worker, alert service and simulator of one isolation, until every panel's query has an answer
    (or a deadline passes: the tests then name the panels without one)."""
    iso = Isolation(stack, tmp_path_factory.mktemp("dashboards"))
    try:
        iso.ensure_topics(partitions=2)
        ingest = iso.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
        iso.start("worker", "CITYWATCH_WORKER_WEB_PORT")
        iso.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz")
        start_simulator(iso, ingest, "--days-back", str(SIMULATED_DAYS), "--speed", "max", "--seed", "7")
        deadline = time.monotonic() + 240
        pending = [expr for _, _, expr in QUERIES]
        while pending and time.monotonic() < deadline:
            pending = [expr for expr in pending if not _answers(stack, expr)]
            time.sleep(5)
        yield Pipeline(stack, iso)
    finally:
        iso.close()


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"), QUERIES, ids=[f"{d}/{p}/{i}" for i, (d, p, _) in enumerate(QUERIES)]
)
def test_panel_query_returns_citywatch_series(pipeline: Pipeline, dashboard: str, panel: str, expr: str) -> None:
    stack = pipeline.stack
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    assert response.status_code == 200, f"{dashboard} / {panel}: {response.status_code} {response.text}\n{expr}"
    body = response.json()
    assert body["status"] == "success", f"{dashboard} / {panel}: {body}\n{expr}"
    result = body["data"]["result"]
    assert result, f"{dashboard} / {panel}: no series for\n{expr}"
    assert any(_is_citywatch(series["metric"]) for series in result), (
        f"{dashboard} / {panel}: no citywatch series in {result[:3]}\n{expr}"
    )


def _latest_values(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """The newest value of every (indicator, site) on the indicators topic: latest event time, then revision."""
    best: dict[tuple[str, str], tuple[str, int, float]] = {}
    for r in records:
        key = (r["indicator"], r["site"])
        candidate = (r["observed_at"], int(r.get("revision", 0)), float(r["value"]))
        if key not in best or candidate[:2] >= best[key][:2]:
            best[key] = candidate
    return {key: value for key, (_, _, value) in best.items()}


def test_overview_panels_show_the_values_on_the_indicators_topic(pipeline: Pipeline) -> None:
    board = json.loads((REPO_ROOT / dashboards.DASHBOARDS_DIR / "overview.json").read_text(encoding="utf-8"))
    by_metric = {(i.metric, i.window): i.id for i in CATALOGUE.values()}
    overview = next(m for m in dashboards.MODULES if m.UID == "overview")
    values = variable_values(getattr(overview, "FEEDS", ()))
    exprs = sorted(
        {
            walk.substitute(q.expr, values)
            for q in walk.queries(board)
            if "citywatch_alert_state" not in q.expr and q.ref != THRESHOLD_REF  # limit lines: the tables' values
        }
    )
    topic = Topics(pipeline.isolation.id).indicators
    mismatches: list[str] = []
    deadline = time.monotonic() + 90
    while True:
        shown: dict[tuple[str, str], float] = {}
        for expr in exprs:
            answer = httpx.get(f"{pipeline.stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
            for series in answer.json()["data"]["result"]:
                labels = series["metric"]
                if labels.get("test") != pipeline.isolation.id:
                    continue  # an earlier test's series
                indicator = by_metric[(labels["__name__"], labels["window"])]
                shown[(indicator, labels["site"])] = float(series["value"][1])
        latest = _latest_values(read_indicators_until(pipeline.stack.kafka_bootstrap, topic, lambda rs: bool(rs)))
        mismatches = [
            f"{indicator} at {site}: panel {value!r}, topic {latest.get((indicator, site))!r}"
            for (indicator, site), value in sorted(shown.items())
            if latest.get((indicator, site)) is None
            or abs(latest[(indicator, site)] - value) > 1e-9 * max(1, abs(value))
        ]
        # Every overview panel has at least one series of this run, and all equal the topic. The simulator may
        # still be publishing, so a difference gets a few scrapes to settle.
        panels_covered = {i for i, _ in shown} == {by_metric[m] for m in _overview_metrics(exprs)}
        if panels_covered and not mismatches:
            break
        assert time.monotonic() < deadline, f"covered every panel: {panels_covered}; differences: {mismatches[:10]}"
        time.sleep(5)


def _overview_metrics(exprs: list[str]) -> set[tuple[str, str]]:
    """(metric, window) of every overview query, read from its selector."""
    found = set()
    for expr in exprs:
        match = re.match(r'(citywatch_\w+)\{window="(\w+)"', expr)
        assert match, expr
        found.add((match.group(1), match.group(2)))
    return found


def _scalar(stack: StackConfig, expr: str) -> float:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    result = response.json()["data"]["result"]
    assert result, f"no answer for {expr}"
    return float(result[0]["value"][1])


def test_processing_latency_and_event_time_lag_are_plausible_histograms(pipeline: Pipeline) -> None:
    """Issue 17: every processing-latency observation used to land in +Inf (sum/count ≈ 56 years). Read through
    Prometheus, receipt → published is seconds to minutes (the simulator's 29-day backlog makes the worker catch
    up), and event-time lag is a separate histogram whose history reaches the day buckets."""
    stack = pipeline.stack
    latency, lag = "citywatch_worker_processing_latency_seconds", "citywatch_worker_event_time_lag_seconds"
    count = _scalar(stack, f"sum({latency}_count)")
    assert count > 0
    mean = _scalar(stack, f"sum({latency}_sum) / sum({latency}_count)")
    assert 0 < mean < 900, f"mean processing latency {mean} s"
    within_15_min = _scalar(stack, f'sum({latency}_bucket{{le="900.0"}}) / sum({latency}_count)')
    assert within_15_min > 0.95, f"only {within_15_min:.0%} of readings published within 15 minutes"
    median = _scalar(stack, f"histogram_quantile(0.5, sum by (le) ({latency}_bucket))")
    p95 = _scalar(stack, f"histogram_quantile(0.95, sum by (le) ({latency}_bucket))")
    print(f"processing latency: {count:.0f} readings, mean {mean:.2f} s, p50 {median:.2f} s, p95 {p95:.1f} s")
    assert 0 < median < 300
    # the same readings, timed from their observation: hours to days (29 simulated days, then live)
    assert _scalar(stack, f"sum({lag}_count)") == pytest.approx(count, rel=0.05)
    lag_mean = _scalar(stack, f"sum({lag}_sum) / sum({lag}_count)")
    lag_p50 = _scalar(stack, f"histogram_quantile(0.5, sum by (le) ({lag}_bucket))")
    print(f"event-time lag: mean {lag_mean / 86400:.1f} d, p50 {lag_p50 / 3600:.1f} h")
    assert 60 < lag_mean < 40 * 86400, f"mean event-time lag {lag_mean} s"
    assert _scalar(stack, f'sum({lag}_bucket{{le="86400.0"}})') < _scalar(stack, f"sum({lag}_count)")


def _panel_target(uid: str, title_start: str, ref: str) -> str:
    board = json.loads((REPO_ROOT / dashboards.DASHBOARDS_DIR / f"{uid}.json").read_text(encoding="utf-8"))
    (panel,) = [p for p in walk.panels(board) if p["title"].startswith(title_start)]
    (expr,) = [t["expr"] for t in panel["targets"] if t["refId"] == ref]
    return str(expr)


def test_limit_line_across_the_2026_change_shows_75_then_60(stack: StackConfig) -> None:
    """Issue 17: a panel over 2026-02-20 → 2026-03-10 draws the PM2.5 24 h limit in force at each instant, and the
    limits and targets are series in Prometheus (recording rules) under their own names."""
    expr = _panel_target("air", "PM2.5 per station", THRESHOLD_REF)
    response = httpx.get(
        f"{stack.prometheus_url}/api/v1/query_range",
        params={"query": expr, "start": "2026-02-20T00:00:00Z", "end": "2026-03-10T00:00:00Z", "step": "1h"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    by_time = {
        float(t): (float(v), series["metric"]["standard"])
        for series in response.json()["data"]["result"]
        for t, v in series["values"]
    }
    assert len(by_time) == 18 * 24 + 1  # one value at every step, no gap and no overlap at the change
    change = 1772294400  # 2026-03-01T00:00+08:00
    assert {v for t, v in by_time.items() if t < change} == {(75.0, "GB 3095-2012")}
    assert {v for t, v in by_time.items() if t >= change} == {(60.0, "GB 3095-2026 (transition 2026–2030)")}

    deadline = time.monotonic() + 90  # the recording rules run at Prometheus's evaluation interval
    query = 'citywatch_standard_limit{pollutant="pm10", period="24h", grade="II"}'
    while not _answers(stack, query) and time.monotonic() < deadline:
        time.sleep(2)
    in_force_today = gb3095_limit(pollutant="pm10", period="24h", grade="II", on=dt.date.today()).value
    assert _scalar(stack, query) == float(in_force_today)  # 120 until 2030
    assert _scalar(stack, 'citywatch_plan_target{target="public_transport_share"}') == 35
