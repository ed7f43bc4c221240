"""The worker's per-batch logic without Kafka or faust (`streams/pipeline.py`): plain events in, outputs in a list,
state in a dict."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from citywatch.clock import ProcessingClock
from citywatch.feeds import parse_record
from citywatch.rule_engine.engine import RuleEngine
from citywatch.rule_engine.loader import load_rules
from citywatch.rule_engine.model import Rule
from citywatch.schemas.feed_batch import encode_batches
from citywatch.schemas.indicator import records_in
from citywatch.schemas.receipt import RECEIPT_HEADER
from citywatch.settings import WorkerSettings
from citywatch.site_registry import Registry, load_registry
from citywatch.topics import Topics
from streams.pipeline import Event, Pipeline, PipelineSetup, RuleLane
from streams.processors import district_processor, feed_processors
from streams.rule_source import history_rules_key, partition_of, rules_key
from tools.devstack.config import REPO_ROOT

SETTINGS = WorkerSettings(
    registry_file=str(REPO_ROOT / "registry/wujiang-sample.yaml"), rules_dir=str(REPO_ROOT / "rules")
)
REGISTRY = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
RULES = load_rules(REPO_ROOT / "rules", REGISTRY)
TOPICS = Topics("unit")
AIR = TOPICS.feed("air", "environment")
PARTITIONS = 4
RECENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: float = 0.0


@dataclass(frozen=True)
class FakeEvent:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    message: Message


@dataclass
class Table:
    """The state table: values by key, and the partition each was last written in."""

    values: dict[str, Any] = field(default_factory=dict)
    written_in: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, at: Event) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any, at: Event) -> None:
        self.values[key] = value
        self.written_in[key] = at.message.partition

    def delete(self, key: str, at: Event) -> None:
        self.values.pop(key, None)


@dataclass
class Outputs:
    """What the pipeline sent, by topic; `fail` makes every acknowledgement fail, as a broker that is away."""

    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    fail: bool = False

    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        self.sent.append((topic, key, value))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            acknowledged.set_exception(ConnectionError("the broker is away"))
        else:
            acknowledged.set_result(None)
        return acknowledged

    def on(self, topic: str) -> list[tuple[bytes, bytes]]:
        return [(key, value) for t, key, value in self.sent if t == topic]

    def indicators(self) -> dict[str, tuple[Any, ...]]:
        """The latest value of every indicator bucket sent."""
        return {
            r.bucket_key: (r.value, r.samples, r.status)
            for _, value in self.on(TOPICS.indicators)
            for r in records_in(value)
        }


def pipeline(
    table: Table,
    outputs: Outputs,
    step_readings: int = 2000,
    *,
    registry: Registry = REGISTRY,
    rules: list[Rule] = RULES,
    topics: Topics = TOPICS,
    feed_topics: dict[str, str] | None = None,
) -> Pipeline:
    clock = ProcessingClock(None, 1.0)
    setup = PipelineSetup(
        topics=topics,
        registry=registry,
        feed_topics={AIR: "air"} if feed_topics is None else feed_topics,
        processors=feed_processors(registry, SETTINGS),
        process_district=district_processor(SETTINGS),
        bounds=SETTINGS.clock_bounds(),
        zone=SETTINGS.zone,
        default_partitions=PARTITIONS,
        step_readings=step_readings,
    )
    live = RuleLane(RuleEngine(rules, registry, started=clock.now()), rules_key, live=True)
    past = RuleLane(RuleEngine(rules, registry, started=clock.now(), historical=True), history_rules_key, live=False)
    return Pipeline(setup, table, outputs, live, past, clock)


def reading(site: str, hour: int, pm25: float) -> dict[str, Any]:
    return {"station": site, "observed_at": (RECENT + timedelta(hours=hour)).isoformat(), "pm25": pm25}


def event(site: str, value: bytes, offset: int, receipt: str = "r-1", partition: int | None = None) -> FakeEvent:
    where = partition_of(site, PARTITIONS) if partition is None else partition
    return FakeEvent(site.encode(), value, {RECEIPT_HEADER: receipt.encode()}, Message(AIR, where, offset))


def batch_of(*readings: dict[str, Any]) -> bytes:
    (message,) = encode_batches([parse_record("air", r) for r in readings])
    return message


def test_a_batch_of_messages_is_admitted_processed_published_and_stored() -> None:
    table, outputs = Table(), Outputs()
    songling = batch_of(reading("wj-songling", 1, 21), reading("wj-songling", 2, 22), reading("wj-songling", 3, 23))
    bad = json.dumps(reading("wj-lili", 1, -4)).encode()
    lili = json.dumps(reading("wj-lili", 2, 30)).encode()
    events = [event("wj-songling", songling, 0), event("wj-lili", bad, 1), event("wj-lili", lili, 2)]

    asyncio.run(pipeline(table, outputs).feed_batch(events))

    updates = outputs.on(TOPICS.indicators)
    assert [key for key, _ in updates] == [b"wj-songling", b"wj-lili"]  # one update per site of the batch
    hourly = {(r.site, r.value) for _, value in updates for r in records_in(value) if r.indicator == "air.pm25.1h"}
    assert hourly == {("wj-songling", 21.0), ("wj-songling", 22.0), ("wj-songling", 23.0), ("wj-lili", 30.0)}
    ((_, letter),) = outputs.on(TOPICS.dead_letter)
    assert json.loads(letter)["errors"][0]["field"] == "pm25"
    assert json.loads(letter)["source"] == f"{AIR}[{partition_of('wj-lili', PARTITIONS)}]@1"
    ((_, receipt),) = outputs.on(TOPICS.receipts)
    outcomes = sorted(outcome for _, outcome in json.loads(receipt)["outcomes"])
    assert outcomes == ["invalid", "new", "new", "new", "new"]  # each record of the batch once
    # Each site's state (and its rule state) lives in the partition of its own readings.
    assert table.written_in["wj-songling"] == partition_of("wj-songling", PARTITIONS)
    assert table.written_in["wj-lili"] == partition_of("wj-lili", PARTITIONS)
    assert {"rules:wj-songling", "rules:wj-lili"} <= table.values.keys()
    assert outputs.on(TOPICS.contributions)  # the district stage hears of both stations' days


def test_a_batch_read_again_counts_nothing_twice() -> None:
    table, outputs = Table(), Outputs()
    events = [event("wj-songling", batch_of(reading("wj-songling", 1, 21), reading("wj-songling", 2, 22)), 0)]
    asyncio.run(pipeline(table, outputs).feed_batch(events))
    again = Outputs()
    asyncio.run(pipeline(table, again).feed_batch(events))
    assert again.on(TOPICS.indicators) == []
    ((_, receipt),) = again.on(TOPICS.receipts)
    assert [outcome for _, outcome in json.loads(receipt)["outcomes"]] == ["duplicate", "duplicate"]


def test_nothing_is_stored_until_the_broker_acknowledged_every_output() -> None:
    table, outputs = Table(), Outputs(fail=True)
    events = [event("wj-songling", json.dumps(reading("wj-songling", 1, 21)).encode(), 0)]
    with pytest.raises(ConnectionError):
        asyncio.run(pipeline(table, outputs).feed_batch(events))
    assert outputs.on(TOPICS.indicators)  # sent, but never acknowledged ...
    assert table.values == {}  # ... so the batch is read again, never lost


def test_a_record_on_the_wrong_partition_and_a_broken_batch_come_back_with_reasons() -> None:
    table, outputs = Table(), Outputs()
    wrong = (partition_of("wj-songling", PARTITIONS) + 1) % PARTITIONS
    broken = b'{"kind": "feed-batch", "version": 1, "records": []}'
    events = [
        event("wj-songling", json.dumps(reading("wj-songling", 1, 21)).encode(), 0, partition=wrong),
        event("wj-songling", broken, 1),
    ]
    asyncio.run(pipeline(table, outputs).feed_batch(events))
    letters = [json.loads(value) for _, value in outputs.on(TOPICS.dead_letter)]
    assert [(letter["outcome"], letter["errors"][0]["field"]) for letter in letters] == [
        ("wrong-partition", "(partition)"),
        ("invalid", "(batch)"),
    ]
    assert outputs.on(TOPICS.indicators) == [] and table.values == {}


def test_a_batch_folded_in_small_steps_gives_what_one_step_gives() -> None:
    """A batch of feed batches can hold hundreds of thousands of readings; it is folded, published and stored in
    steps (`CITYWATCH_WORKER_STEP_READINGS`), and the steps add up to the same records and state as one."""
    songling = [reading("wj-songling", h, 20 + h) for h in range(1, 8)]
    events = [
        event("wj-songling", batch_of(*songling[:4]), 0),
        event("wj-lili", json.dumps(reading("wj-lili", 1, 30)).encode(), 1),
        event("wj-songling", batch_of(*songling[4:]), 2),
    ]
    results = []
    for step in (2000, 3, 1):
        table, outputs = Table(), Outputs()
        asyncio.run(pipeline(table, outputs, step_readings=step).feed_batch(events))
        results.append((outputs.indicators(), table.values["wj-songling"], table.values["wj-lili"]))
    assert results[0][0]  # something was computed
    assert results[1] == results[0] and results[2] == results[0]


def test_the_feed_stage_waits_for_the_district_stage_only_with_a_feed_of_areas() -> None:
    """A district's rule state is written by the district stage and by the feed stage for feeds whose sites are
    areas (the mode share): overlapping, one would store over the other's update, so they take turns. Feeds of
    stations do not wait."""
    share = TOPICS.feed("mode_share", "transport")
    at = partition_of("wj-district", PARTITIONS)
    ytd = {"area": "wj-district", "date": RECENT.date().isoformat(), "all_trips": 1000, "public_transport_trips": 100}
    areas = [FakeEvent(b"wj-district", json.dumps({**ytd, "source": "smart_card"}).encode(), {}, Message(share, at, 0))]
    stations = [event("wj-songling", json.dumps(reading("wj-songling", 1, 21)).encode(), 0)]

    async def run() -> tuple[bool, bool, bool]:
        outputs = Outputs()
        both = pipeline(Table(), outputs, feed_topics={AIR: "air", share: "mode_share"})
        async with both.district_rules:  # the district stage, busy with a batch
            of_areas = asyncio.create_task(both.feed_batch(areas))
            of_stations = asyncio.create_task(both.feed_batch(stations))
            contributions = asyncio.create_task(both.contribution_batch([]))
            await asyncio.sleep(0.05)
            waiting = (not of_areas.done(), not contributions.done(), of_stations.done())
            assert outputs.on(TOPICS.indicators) == [(b"wj-songling", outputs.on(TOPICS.indicators)[0][1])]
        await asyncio.gather(of_areas, contributions)
        return waiting

    areas_waited, district_waited, stations_went_on = asyncio.run(run())
    assert areas_waited and district_waited and stations_went_on
