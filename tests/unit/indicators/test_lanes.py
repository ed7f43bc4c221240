"""A site's history beside its live data (`citywatch.indicators.lanes`): the two lanes split the calendar at the
live lane's first day, and together give the buckets one uninterrupted run in event order gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.air_station import AirContext, process_station_batch, station_since
from citywatch.indicators.batch import BatchResult
from citywatch.indicators.lanes import Lanes, route, run_lanes
from citywatch.schemas.air import AirReading
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.settings import WorkerSettings
from citywatch.site_registry import load_registry
from streams.processors import feed_processors
from tests.unit.indicators.helpers import ZONE

AIR = feed_processors(load_registry("registry/wujiang-sample.yaml"), WorkerSettings()).get("air")
assert AIR is not None and AIR.lanes is not None
LANES = AIR.lanes
START = dt.datetime(2024, 12, 20, tzinfo=ZONE)  # history runs over the new year, so two years' figures are split
H = dt.timedelta(hours=1)
# Buckets one lane cannot compute alone: moving windows reaching across the lanes' boundary.
WINDOWS_ACROSS = ("air.pm25.mean_24h", "air.pm10.mean_24h", "air.o3.mean_8h", "air.aqi.realtime")


def reading(hour: int, pm25: float) -> AirReading:
    return AirReading.model_validate({"station": "wj-songling", "observed_at": START + (hour + 1) * H, "pm25": pm25})


def series(hours: range, gaps: set[int]) -> list[AirReading]:
    return [reading(h, float(20 + (h * 37) % 90)) for h in hours if h not in gaps]


def last(records: list[IndicatorRecord]) -> dict[str, IndicatorRecord]:
    out: dict[str, IndicatorRecord] = {}
    for r in records:
        if r.bucket_key not in out or r.revision >= out[r.bucket_key].revision:
            out[r.bucket_key] = r
    return out


def reference(readings: list[AirReading]) -> dict[str, IndicatorRecord]:
    """One lane, every reading in event order: what the site would have shown had the history come live."""
    _, _, records, _ = process_station_batch(None, sorted(readings, key=lambda r: r.observed_at), LANES_CTX)
    return last(records)


LANES_CTX = AirContext(zone=ZONE, district="wj-district")  # the context `feed_processors` gives the air lanes


def comparable(r: IndicatorRecord) -> tuple[Any, ...]:
    return (r.value, r.status, r.samples, r.labels)


def through_lanes(batches: list[list[tuple[AirReading, bool]]]) -> tuple[Lanes[Any], list[IndicatorRecord]]:
    lanes: Lanes[Any] = Lanes()
    records: list[IndicatorRecord] = []
    for batch in batches:
        result: BatchResult[Lanes[Any]] = run_lanes(LANES, lanes, batch)
        assert not any(o.dead_letter for o in result.outcomes), [o for o in result.outcomes if o.dead_letter]
        lanes = result.state
        records += result.records + result.history_records
    return lanes, records


def test_routing() -> None:
    d = dt.date(2025, 1, 5)
    assert route(None, True, d) == "history" and route(None, False, d) == "live"
    assert route(d, False, dt.date(2025, 1, 4)) == "history"  # a live reading before the live lane began
    assert route(d, True, d) == "live" and route(d, True, None) == "live"


@settings(max_examples=15, deadline=None)
@given(
    live_days=st.integers(2, 6),
    gaps=st.sets(st.integers(0, 24 * 25), max_size=60),
    batch=st.sampled_from([1, 7, 500]),
)
def test_history_loaded_after_live_data_gives_what_one_run_in_event_order_gives(
    live_days: int, gaps: set[int], batch: int
) -> None:
    history_hours = range(0, 24 * 20)
    live_hours = range(24 * 20, 24 * (20 + live_days))
    history, live = series(history_hours, gaps), series(live_hours, gaps)
    chunks = [[(r, False) for r in live]] + [
        [(r, True) for r in history[i : i + batch]] for i in range(0, len(history), batch)
    ]
    lanes, records = through_lanes(chunks)
    assert station_since(lanes.live, ZONE) == live[0].observed_at.astimezone(ZONE).date()
    got, want = last(records), reference(history + live)
    compared = {k for k in want if not k.startswith(WINDOWS_ACROSS)}
    assert compared <= got.keys()
    mismatched = {
        k: (comparable(got[k]), comparable(want[k])) for k in compared if comparable(got[k]) != comparable(want[k])
    }
    assert not mismatched
    assert sum(1 for k in compared if "daily_mean" in k) >= 20  # every day of both lanes was compared
    # every year's figures count both lanes: 2024 is all history, 2025 history and live
    assert (
        got["air.pm25.annual_mean_ytd|wj-songling|2025"].samples
        == want["air.pm25.annual_mean_ytd|wj-songling|2025"].samples
    )


def test_history_sent_before_any_live_data_is_adopted_by_the_first_live_reading() -> None:
    history = series(range(0, 48), set())
    live = series(range(48, 60), set())
    lanes, records = through_lanes([[(r, True) for r in history], [(r, False) for r in live]])
    assert lanes.history is None  # the history continued as the live lane
    assert station_since(lanes.live, ZONE) == dt.date(2024, 12, 20)
    got, want = last(records), reference(history + live)
    assert {k: comparable(v) for k, v in got.items()} == {k: comparable(v) for k, v in want.items()}


def test_a_live_reading_older_than_the_live_lanes_first_day_goes_to_history() -> None:
    first = series(range(48, 50), set())
    late = reading(47, 33.0)  # the hour before: the previous day
    result = run_lanes(LANES, Lanes(), [(first[0], False), (first[1], False), (late, False)])
    assert [o.kind for o in result.outcomes] == ["new", "new", "new"]
    assert result.state.history is not None and [r.period for r in result.history_records if r.window == "day"]
    assert all(r.local_date == dt.date(2024, 12, 21) for r in result.history_records if r.window == "day")
