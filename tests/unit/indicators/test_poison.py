"""No poison records: every feed's processor takes every time the clocks admit, and a record that makes one raise
is dead-lettered (`guarded`) while the rest of its batch counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from citywatch.feeds import FEEDS, parse_record
from citywatch.indicators.batch import BatchResult, guarded
from citywatch.indicators.eventtime import Accepted, Failed
from citywatch.settings import WorkerSettings
from citywatch.site_registry import load_registry
from streams.processors import feed_processors
from tests.feed_examples import VALID

REGISTRY = load_registry("registry/wujiang-sample.yaml")
SETTINGS = WorkerSettings()
PROCESSORS = feed_processors(REGISTRY, SETTINGS)
BOUNDS = SETTINGS.clock_bounds()
NOW = dt.datetime(2026, 12, 5, 6, tzinfo=dt.UTC)
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
ANY_TIME = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=OFFSETS)
ADMITTED = st.datetimes(min_value=dt.datetime(2013, 1, 2), max_value=dt.datetime(2026, 12, 5), timezones=OFFSETS)


def at(feed: str, t: dt.datetime, extreme: bool = False) -> dict[str, Any]:
    """A valid record of `feed` observed at `t` (values at the top of their ranges when `extreme`)."""
    record = dict(VALID[feed])
    if feed == "air":
        record["observed_at"] = t.isoformat()
        if extreme:
            record.update(pm25=5000, pm10=5000, o3=2000, no2=4000, so2=10000, co=200, quality_flags={})
    elif feed == "water":
        record["sampled_at"] = t.isoformat()
        if extreme:
            record.update(pH=14, CODMn=1000.0, NH3N=1000.0, TP=1000.0, TN=1000.0)
    elif feed == "bus":
        record.update(interval_start=t.isoformat(), interval_end=(t + dt.timedelta(minutes=15)).isoformat())
        if extreme:
            record.update(boardings=100_000, alightings=100_000)
    elif feed == "mode_share":
        record["date"] = t.date().isoformat()
        if extreme:
            record.update(all_trips=10**12, public_transport_trips=10**12)
    else:
        record["delivered_at"] = t.isoformat()
        if extreme:
            record["received_tonnes"] = 100.0
    return record


def run(feed: str, record: dict[str, Any]) -> BatchResult[Any]:
    try:
        parsed = parse_record(feed, record)
    except Exception:  # the schema refused it (e.g. an extreme value out of its range): not the processor's input
        assume(False)
        raise
    result, _ = guarded(PROCESSORS[feed].process_batch, None, [parsed])
    return result


@pytest.mark.parametrize("feed", list(FEEDS))
@settings(max_examples=60, deadline=None)
@given(t=ANY_TIME)
def test_any_time_the_schema_takes_is_processed_or_dead_lettered_never_raised(feed: str, t: dt.datetime) -> None:
    assume(t.year < 9999 or feed != "bus")
    result = run(feed, at(feed, t))  # never raises: the guard dead-letters what the processor cannot take
    assert len(result.outcomes) == 1
    assert not isinstance(result.outcomes[0], Failed)  # and the schema's years are all years the processors take


@pytest.mark.parametrize("feed", list(FEEDS))
@settings(max_examples=60, deadline=None)
@given(t=ADMITTED, extreme=st.booleans())
def test_every_time_the_clocks_admit_is_processed(feed: str, t: dt.datetime, extreme: bool) -> None:
    record = parse_record(feed, at(feed, t, extreme))
    assume(not BOUNDS.problems(record, NOW))
    result = run(feed, at(feed, t, extreme))
    assert not isinstance(result.outcomes[0], Failed), result.outcomes[0]


def test_a_record_the_processor_cannot_take_alone_is_dead_lettered_and_its_batch_counts() -> None:
    good = [parse_record("air", at("air", dt.datetime(2025, 1, 1, h, tzinfo=dt.UTC))) for h in range(1, 4)]
    # The schema refuses year 9999 now; built past it, the record stands for any input nobody foresaw.
    poison = good[0].model_copy(
        update={"observed_at": dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "event_id": "poison"}
    )
    result, failures = guarded(PROCESSORS["air"].process_batch, None, [good[0], poison, good[1], good[2]])
    assert [type(o) for o in result.outcomes] == [Accepted, Failed, Accepted, Accepted]
    assert [i for i, _ in failures] == [1]
    assert "could not be processed (OverflowError" in result.outcomes[1].reason
    clean, _ = guarded(PROCESSORS["air"].process_batch, None, good)
    assert result.state == clean.state and result.records == clean.records


def test_the_guard_changes_nothing_when_nothing_raises() -> None:
    calls: list[int] = []

    def process(state: Any, items: Sequence[int]) -> BatchResult[Any]:
        calls.append(len(items))
        return BatchResult((state or 0) + sum(items), [Accepted("new", None) for _ in items])

    result, failures = guarded(process, None, [1, 2, 3])
    assert (result.state, failures, calls) == (6, [], [3])
