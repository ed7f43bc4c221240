"""Bus routes and waste plants are processed a batch at a time (`run_deferred`: fold every record, then summarise and
emit each touched day once). A batch must leave exactly what one record at a time leaves: the same state, the same
outcome per record, the same last record per bucket and the same contributions, across pruning, duplicates,
corrections and late arrivals."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.feeds import SITE_FIELDS, parse_record
from citywatch.indicators.batch import BatchResult, run_batch
from citywatch.indicators.bus import BusContext, process_route, process_route_batch
from citywatch.indicators.waste import WasteContext, process_plant, process_plant_batch
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry import load_registry
from citywatch.site_registry.model import WastePlant
from services.simulator.scenario import Scenario
from tests.unit.indicators.helpers import ZONE, canonical
from tools.devstack.config import REPO_ROOT

REGISTRY = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
START = datetime(2026, 3, 2, tzinfo=ZONE)  # a Monday
HOURS = 24 * 12  # long enough for the states to prune


def _records(feed: str, seed: int) -> dict[str, list[dict[str, Any]]]:
    """One site's records per site of `feed`, in emission order, from the simulator (no incidents)."""
    scenario = Scenario(REGISTRY, seed, START, ZONE, incidents=())
    by_site: dict[str, list[dict[str, Any]]] = {}
    for step in range(HOURS):
        for batch in scenario.emissions(step):
            if batch.feed == feed:
                for record in batch.records:
                    by_site.setdefault(str(record[SITE_FIELDS[feed]]), []).append(record)
    return by_site


BUS = _records("bus", seed=5)
WASTE = _records("waste", seed=5)


def _disturbed(records: list[dict[str, Any]], rng: random.Random, field: str) -> list[dict[str, Any]]:
    """Shuffled a little (neighbours swap), about one in ten sent twice, one in twenty corrected later."""
    out = list(records)
    for i in range(0, len(out) - 1, 2):
        if rng.random() < 0.3:
            out[i], out[i + 1] = out[i + 1], out[i]
    extra: list[tuple[int, dict[str, Any]]] = []
    for i, r in enumerate(records):
        if rng.random() < 0.1:
            extra.append((i + rng.randint(0, 5), r))
        if rng.random() < 0.05 and r.get(field) is not None:
            extra.append((i + rng.randint(1, 8), {**r, "revision": 1, field: r[field] + 1}))
    for at, r in sorted(extra, key=lambda e: -e[0]):
        out.insert(min(at, len(out)), r)
    return out


def _compare(
    feed: str,
    records: Sequence[FeedRecord],
    sizes: list[int],
    process_one: Callable[[Any, Any, Any], Any],
    process_batch: Callable[[Any, Sequence[Any], Any], BatchResult[Any]],
    ctx: Any,
) -> None:
    """Feed `records` in chunks of `sizes` (cycled) to `process_batch` and, a record at a time, to `process_one`."""

    def one(state: Any, record: Any) -> Any:
        return process_one(state, record, ctx)

    state_one: Any = None
    state_batch: Any = None
    at = 0
    k = 0
    while at < len(records):
        chunk = records[at : at + sizes[k % len(sizes)]]
        at += len(chunk)
        k += 1
        expected = run_batch(one, state_one, chunk)
        got = process_batch(state_batch, chunk, ctx)
        assert [o.kind for o in got.outcomes] == [o.kind for o in expected.outcomes], feed
        assert [r.model_dump() for r in got.records] == [r.model_dump() for r in expected.records], feed
        assert sorted(c.model_dump_json() for c in got.contributions) == sorted(
            c.model_dump_json() for c in expected.contributions
        ), feed
        assert canonical(got.state) == canonical(expected.state), feed
        state_one, state_batch = expected.state, got.state


SIZES = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=6)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), sizes=SIZES)
def test_a_bus_batch_equals_one_count_at_a_time(seed: int, sizes: list[int]) -> None:
    ctx = BusContext(zone=ZONE, day_type=REGISTRY.day_type, district="wujiang")
    rng = random.Random(seed)
    _route, records = sorted(BUS.items())[seed % len(BUS)]
    parsed = [parse_record("bus", orjson.dumps(r)) for r in _disturbed(records, rng, "boardings")]
    _compare("bus", parsed, sizes, process_route, process_route_batch, ctx)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), sizes=SIZES)
def test_a_waste_batch_equals_one_record_at_a_time(seed: int, sizes: list[int]) -> None:
    rng = random.Random(seed)
    plant_id, records = sorted(WASTE.items())[seed % len(WASTE)]
    plant = REGISTRY.site(plant_id)
    assert isinstance(plant, WastePlant)
    ctx = WasteContext(zone=ZONE, capacity_t_per_day=plant.capacity_t_per_day, district="wujiang")
    field = "received_tonnes" if any("received_tonnes" in r for r in records) else "incinerated_tonnes"
    parsed = [parse_record("waste", orjson.dumps(r)) for r in _disturbed(records, rng, field)]
    _compare("waste", parsed, sizes, process_plant, process_plant_batch, ctx)


def test_the_inputs_span_longer_than_any_lateness() -> None:
    """So the batches above cross the states' pruning."""
    assert len(BUS) >= 2 and len(WASTE) >= 2
    for feed, by_site in (("bus", BUS), ("waste", WASTE)):
        for records in by_site.values():
            times = sorted(parse_record(feed, orjson.dumps(r)).event_time(ZONE) for r in records)  # type: ignore[union-attr]
            assert times[-1] - times[0] > timedelta(days=10)


@pytest.mark.parametrize("feed", ["bus", "waste"])
def test_an_empty_batch_is_refused(feed: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        if feed == "bus":
            process_route_batch(None, [], BusContext(zone=ZONE, day_type=REGISTRY.day_type))
        else:
            process_plant_batch(None, [], WasteContext(zone=ZONE))
