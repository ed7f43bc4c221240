"""`citywatch bench scrape`: the worker's /metrics at many sites — the indicator exposition beside
prometheus_client's own gauges (the baseline), same series, same process."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.schemas.indicator import IndicatorRecord
from streams.metrics import IndicatorExposition


@dataclass(frozen=True)
class ScrapeFigures:
    name: str
    series: int
    observe_us: float  # per record
    scrape_s: float  # best of the repeats
    body_bytes: int


def site_indicators() -> list[Indicator]:
    return sorted((i for i in CATALOGUE.values() if i.stage == "site"), key=lambda i: i.id)


def records_for(sites: int, feed: str = "air") -> list[IndicatorRecord]:
    """One record of every site indicator of `feed` for each of `sites` synthetic sites."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    chosen = [i for i in site_indicators() if i.feed == feed]
    return [
        IndicatorRecord(
            indicator=i.id,
            site=f"bench-site-{n:06d}",
            value=n / 7,
            unit=i.unit,
            window=i.window,
            observed_at=at + timedelta(seconds=n),
            local_date=at.date(),
            samples=1,
            revision=0,
            period=at.isoformat(),
            standard="GB 3095-2026",
        )
        for n in range(sites)
        for i in chosen
    ]


def measure_exposition(records: list[IndicatorRecord], repeats: int = 3) -> ScrapeFigures:
    exposition = IndicatorExposition()
    start = time.perf_counter()
    for r in records:
        exposition.observe(r)
    observe = time.perf_counter() - start
    best, body = _best(lambda: exposition.render().encode(), repeats)
    return ScrapeFigures("citywatch exposition", len(records), observe / len(records) * 1e6, best, len(body))


def measure_client_gauges(records: list[IndicatorRecord], repeats: int = 3) -> ScrapeFigures:
    registry = CollectorRegistry()
    gauges = {
        m: Gauge(m, "baseline", ["site", "window", "standard"], registry=registry)
        for m in {CATALOGUE[r.indicator].metric for r in records}
    }
    start = time.perf_counter()
    for r in records:
        gauges[CATALOGUE[r.indicator].metric].labels(r.site, r.window, r.standard or "").set(r.value)
    observe = time.perf_counter() - start
    best, body = _best(lambda: generate_latest(registry), repeats)
    return ScrapeFigures("prometheus_client gauges", len(records), observe / len(records) * 1e6, best, len(body))


def _best(render: Callable[[], bytes], repeats: int) -> tuple[float, bytes]:
    best, body = float("inf"), b""
    for _ in range(repeats):
        start = time.perf_counter()
        body = render()
        best = min(best, time.perf_counter() - start)
    return best, body
