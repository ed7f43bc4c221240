"""A district's state stored in parts (citywatch/indicators/district_parts.py): what is loaded back is what was
folded, whatever the batches; nothing stale stays behind; no part grows past Kafka's record limit."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators import district_parts as parts
from citywatch.indicators.district import DistrictState, process_district_batch
from citywatch.indicators.records import Contribution
from tests.unit.indicators.helpers import canonical
from tests.unit.indicators.test_district import DCTX, OVER_YEARS

KAFKA_RECORD_LIMIT = 1_048_576  # the broker's and producer's default max message size


class Table(dict[str, Any]):
    """The faust table as the worker uses it: get, set and delete of JSON values."""

    def apply(self, changes: parts.Changes) -> None:
        for key, value in changes.writes.items():
            self[key] = json.loads(json.dumps(value))  # stored as JSON, like the table's changelog
        for key in changes.deletes:
            del self[key]


def _store(table: Table, before: DistrictState | None, index: parts.DistrictIndex | None, after: DistrictState):
    changes, new_index = parts.changes("wj", before, index, after)
    table.apply(changes)
    return new_index


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=40), st.booleans())
def test_what_is_loaded_back_is_the_folded_state_after_every_batch(rng, size: int, reload_each_batch: bool) -> None:
    contributions = list(OVER_YEARS)  # crosses year boundaries: old buckets are pruned and must leave the table
    rng.shuffle(contributions)
    contributions += contributions[: len(contributions) // 5]
    table = Table()
    state: DistrictState | None = None
    index: parts.DistrictIndex | None = None
    for at in range(0, len(contributions), size):
        if reload_each_batch:  # a restarted worker, or a cache forgotten on a rebalance
            state, index = parts.load("wj", table.get)
        new, _, _ = process_district_batch(state, contributions[at : at + size], DCTX)
        index = _store(table, state, index, new)
        state = new
        loaded, _ = parts.load("wj", table.get)
        assert canonical(loaded) == canonical(state)
    assert state is not None
    expected = {parts.index_key("wj")} | {
        parts.part_key("wj", stage, bucket, k, parts.part_count(len(sites)))
        for stage, buckets in state["stages"].items()
        for bucket, sites in buckets.items()
        for k in range(parts.part_count(len(sites)))
    }
    assert set(table) == expected, "parts of pruned or shrunk buckets were left in the table"


def test_an_unchanged_bucket_is_not_written_again() -> None:
    table = Table()
    first, _, _ = process_district_batch(None, OVER_YEARS[:30], DCTX)
    index = _store(table, None, None, first)
    last = OVER_YEARS[29]
    revised = last.model_copy(update={"revision": last.revision + 1, "values": {**last.values, "pm25_24h": "1"}})
    second, _, _ = process_district_batch(first, [revised], DCTX)
    changes, _ = parts.changes("wj", first, index, second)
    written = {key for key in changes.writes if key != parts.index_key("wj")}
    assert written == {parts.part_key("wj", last.stage, last.bucket, 0, 1)}


def test_a_bucket_of_twenty_thousand_sites_is_stored_in_parts_under_the_record_limit() -> None:
    values = {
        "pm25_24h": "3517/100",
        "pm10_24h": "6120/100",
        "so2_24h": "9",
        "no2_24h": "2713/100",
        "co_24h": "7/10",
        "o3_8h": "88",
    }
    contributions = [
        Contribution(stage="air.city", district="wj", site=f"s{n:06d}", bucket="2026-03-01", values=values, revision=1)
        for n in range(20_000)
    ]
    state, _, _ = process_district_batch(None, contributions, DCTX)
    whole = len(json.dumps(state))
    assert whole > KAFKA_RECORD_LIMIT, "the test must exceed the limit as one value"
    changes, index = parts.changes("wj", None, None, state)
    sizes = [len(json.dumps(value)) for value in changes.writes.values()]
    assert max(sizes) < KAFKA_RECORD_LIMIT // 2, f"a part of {max(sizes):,} bytes"
    assert index["parts"]["air.city"]["2026-03-01"] == parts.part_count(20_000)
    table = Table()
    table.apply(changes)
    loaded, _ = parts.load("wj", table.get)
    assert canonical(loaded) == canonical(state)


def test_a_state_stored_as_one_value_is_read_and_rewritten_in_parts() -> None:
    v1, _, _ = process_district_batch(None, OVER_YEARS[:40], DCTX)
    table = Table({parts.index_key("wj"): json.loads(json.dumps(v1))})
    state, index = parts.load("wj", table.get)
    assert index is None and canonical(state) == canonical(v1)
    more, _, _ = process_district_batch(state, OVER_YEARS[40:45], DCTX)
    _store(table, state, index, more)
    assert "stages" not in table[parts.index_key("wj")]
    loaded, _ = parts.load("wj", table.get)
    assert canonical(loaded) == canonical(more)


def _day(sites: range, revision: int) -> list[Contribution]:
    return [
        Contribution(
            stage="air.city",
            district="wj",
            site=f"s{n:05d}",
            bucket="2026-03-01",
            values={"pm25_24h": str(30 + revision), "pm10_24h": "60"},
            revision=revision,
        )
        for n in sites
    ]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=200))
def test_a_crash_part_way_through_the_writes_loses_no_site(cut: int) -> None:
    """Writes are applied in order (parts, index, deletes) and the worker may die after any of them; what loads
    back holds every site, each with its old or its new entry (the replayed input re-applies the new ones)."""
    old, _, _ = process_district_batch(None, _day(range(900), revision=1), DCTX)
    table = Table()
    index = _store(table, None, None, old)
    new, _, _ = process_district_batch(old, _day(range(3_000), revision=2), DCTX)  # one part becomes four
    changes, _ = parts.changes("wj", old, index, new)
    steps = [("write", k, v) for k, v in changes.writes.items()] + [("delete", k, None) for k in changes.deletes]
    for what, key, value in steps[: cut % (len(steps) + 1)]:
        if what == "write":
            table[key] = json.loads(json.dumps(value))
        else:
            del table[key]
    loaded, _ = parts.load("wj", table.get)
    assert loaded is not None
    sites = loaded["stages"]["air.city"]["2026-03-01"]
    old_sites = old["stages"]["air.city"]["2026-03-01"]
    new_sites = new["stages"]["air.city"]["2026-03-01"]
    assert set(old_sites) <= set(sites), "a crash lost sites the district had"
    assert all(entry in (old_sites.get(site), new_sites[site]) for site, entry in sites.items())


def test_a_revised_site_rewrites_only_its_own_part() -> None:
    table = Table()
    day, _, _ = process_district_batch(None, _day(range(3_000), revision=1), DCTX)
    index = _store(table, None, None, day)
    revised, _, _ = process_district_batch(day, _day(range(7, 8), revision=2), DCTX)
    changes, _ = parts.changes("wj", day, index, revised)
    n = parts.part_count(3_000)
    written = set(changes.writes) - {parts.index_key("wj")}  # the index, if the city AQI of the day moved
    assert written == {parts.part_key("wj", "air.city", "2026-03-01", parts.part_of("s00007", n), n)}
    table.apply(changes)
    loaded, _ = parts.load("wj", table.get)
    assert canonical(loaded) == canonical(revised)
