"""A district's years the live state no longer keeps: a backfill's old years fold into per-year archives, and the
buckets the live state drops when a new year begins move there, so every year's city figures count every station."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.district import (
    DistrictContext,
    DistrictState,
    archive_scope,
    process_district_batch,
    rolled_out,
    scopes_of,
)
from citywatch.indicators.records import Contribution
from citywatch.schemas.indicator import IndicatorRecord
from tests.unit.indicators.helpers import ZONE

CTX = DistrictContext(zone=ZONE)
D = "wj-district"


def contribution(site: str, day: str, pm25: int, revision: int = 1, historical: bool = False) -> Contribution:
    return Contribution(
        stage="air.city", district=D, site=site, bucket=day, values={"pm25_24h": str(pm25)}, revision=revision,
        historical=historical,
    )  # fmt: skip


def worker(batches: list[list[Contribution]]) -> tuple[dict[str, DistrictState | None], list[IndicatorRecord]]:
    """The worker's district stage, pure: route each batch by scope, fold, move what the live state drops."""
    states: dict[str, DistrictState | None] = {}
    records: list[IndicatorRecord] = []
    for batch in batches:
        before = states.get(D)
        scopes: dict[str, list[Contribution]] = {}
        for c, scope in zip(batch, scopes_of(D, before, batch), strict=True):
            scopes.setdefault(scope, []).append(c)
        live = scopes.pop(D, [])
        if live:
            after, _, out = process_district_batch(before, live, CTX)
            states[D] = after
            records += out
            for moved in rolled_out(before, after, D, live):
                scopes.setdefault(archive_scope(D, int(moved.bucket[:4])), []).append(moved)
        for scope, items in scopes.items():
            states[scope], _, out = process_district_batch(states.get(scope), items, CTX)
            records += out
    return states, records


def current(records: list[IndicatorRecord]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, IndicatorRecord] = {}
    for r in records:
        if r.bucket_key not in out or r.revision >= out[r.bucket_key].revision:
            out[r.bucket_key] = r
    return {k: (r.value, r.samples, r.labels) for k, r in out.items()}


def year_by_year(contributions: list[Contribution]) -> dict[str, tuple[Any, ...]]:
    """Each year's contributions folded on their own: every bucket sees all its sites."""
    out: dict[str, tuple[Any, ...]] = {}
    for year in sorted({c.bucket[:4] for c in contributions}):
        _, _, records = process_district_batch(None, [c for c in contributions if c.bucket.startswith(year)], CTX)
        out |= current(records)
    return out


def days(year: int, n: int = 3) -> list[str]:
    return [f"{year}-0{m}-1{d}" for m in range(1, 4) for d in range(n)]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), batch=st.integers(1, 40))
def test_history_of_old_years_beside_live_years_gives_each_years_city_figures(seed: int, batch: int) -> None:
    rng = random.Random(seed)
    live = [contribution(s, d, rng.randint(10, 120)) for d in days(2025) + days(2026) for s in ("a", "b")]
    history = [
        contribution("c", d, rng.randint(10, 120), historical=True) for y in (2021, 2023, 2025, 2026) for d in days(y)
    ]
    history += [contribution("a", d, rng.randint(10, 120), historical=True) for d in days(2022)]
    mixed = live + history
    rng.shuffle(history)  # stations backfilled in any order of years
    arrivals = live + history
    batches = [arrivals[i : i + batch] for i in range(0, len(arrivals), batch)]
    states, records = worker(batches)
    assert set(states) == {D, *(archive_scope(D, y) for y in (2021, 2022, 2023))}
    assert current(records) == year_by_year(mixed)


def test_a_new_year_moves_the_year_before_last_into_its_archive() -> None:
    old = [contribution(s, d, 40) for d in days(2024) for s in ("a", "b")]
    states, _ = worker([old, [contribution("a", "2025-01-01", 30)], [contribution("a", "2026-01-01", 30)]])
    assert {b[:4] for b in (states[D] or {"stages": {}})["stages"]["air.city"]} == {"2025", "2026"}
    archived = states[archive_scope(D, 2024)]
    assert archived is not None and set(archived["stages"]["air.city"]) == set(days(2024))
    # A backfill of 2024 arriving now folds beside what the live state had: the city day counts all three stations.
    states, records = worker(
        [old, [contribution("a", "2026-01-01", 30)], [contribution("c", days(2024)[0], 90, historical=True)]]
    )
    mean = [r for r in records if r.indicator == "air.city.pm25.daily_mean" and r.period == days(2024)[0]][-1]
    aqi = [r for r in records if r.indicator == "air.city.aqi.daily" and r.period == days(2024)[0]][-1]
    assert (mean.value, aqi.labels["stations"]) == ((40 + 40 + 90) / 3, "3")
