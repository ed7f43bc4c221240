"""A feed defined here and nowhere else: one module's worth of description (a record, a site kind, clocks, lateness,
a processor, a simulation) plus registry rows, and it runs end to end through the pure pipeline: the gateway's
schemas, admission, the registry loader, the worker's per-batch logic (dedup, lateness, dead letters, receipts,
indicator updates, state stored per site) and the simulator. Nothing under citywatch/, services/ or streams/ names it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
import yaml
from pydantic import ConfigDict, Field, model_validator

from citywatch.feeds import FEEDS, SITE_FIELDS, Feed, FeedProcessor, SimulatedHour, backfill_feeds, json_schemas
from citywatch.feeds.feed import record_by_record
from citywatch.indicators.catalogue import Indicator
from citywatch.indicators.eventtime import Lateness, admit, ledger_entry
from citywatch.indicators.records import Result
from citywatch.intake import admission
from citywatch.rule_engine.loader import load_rules
from citywatch.schemas.air import Instant, SiteId, derive_event_id
from citywatch.schemas.feed_batch import encode_batches
from citywatch.schemas.feed_record import FeedRecord, content_digest
from citywatch.schemas.indicator import IndicatorRecord, records_in
from citywatch.schemas.receipt import RECEIPT_HEADER
from citywatch.settings import WorkerSettings
from citywatch.site_registry import Registry, RegistryError, registry_from_data
from citywatch.site_registry.model import Site
from citywatch.topics import Topics
from services.simulator.scenario import Scenario
from streams import metrics
from streams.pipeline import Pipeline
from streams.rule_source import partition_of
from tests.unit.test_worker_pipeline import FakeEvent, Message, Outputs, Table
from tests.unit.test_worker_pipeline import pipeline as worker_pipeline
from tools.devstack.config import REPO_ROOT

# --- the feed: road-traffic noise, hourly Leq in dB(A) from roadside monitors ------------------------------------


class NoiseReading(FeedRecord):
    model_config = ConfigDict(extra="forbid", frozen=True)
    site_field: ClassVar[str] = "monitor"
    time_field: ClassVar[str] = "observed_at"

    schema_version: Literal[1] = 1
    monitor: SiteId
    observed_at: Instant = Field(description="End of the hour the level is averaged over")
    leq_db: float = Field(ge=20, le=140, description="Equivalent continuous A-weighted level, dB(A)")
    event_id: str = Field("", max_length=128)
    revision: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _derive_event_id(self) -> NoiseReading:
        if not self.event_id:
            object.__setattr__(self, "event_id", derive_event_id(self.monitor, self.observed_at, "leq"))
        return self


class NoiseMonitor(Site):
    feed: ClassVar[str] = "noise"

    road: str = Field(min_length=1)


LATENESS = Lateness(dt.timedelta(hours=2))
LEQ_1H = Indicator(
    id="noise.leq.1h",
    feed="noise",
    unit="dB(A)",
    window="1h",
    description="Hourly equivalent continuous A-weighted sound level at a roadside monitor",
    metric="citywatch_noise_leq_dba",
    relates_to="GB 3096 class 4a daytime limit (70 dB(A)), as the test's rule says",
)


def noise_processor(registry: Registry, settings: WorkerSettings) -> FeedProcessor:
    def process(state: Any, reading: NoiseReading) -> Result[Any]:
        state = state or {"seen": {}, "watermark": None}
        t = reading.observed_at.timestamp()
        digest = content_digest(reading)
        outcome = admit(state["seen"], state["watermark"], reading.event_id, reading.revision, t, LATENESS, digest)
        if not outcome.accepted:
            return Result(state, outcome)
        seen = {**state["seen"], reading.event_id: ledger_entry(reading.revision, t, digest)}
        watermark = max(t, state["watermark"] or t)
        level = IndicatorRecord(
            indicator=LEQ_1H.id,
            site=reading.monitor,
            value=reading.leq_db,
            unit=LEQ_1H.unit,
            window=LEQ_1H.window,
            observed_at=reading.observed_at,
            local_date=reading.observed_at.astimezone(settings.zone).date(),
            samples=1,
            revision=reading.revision,
            period=reading.observed_at.isoformat(),
        )
        return Result({"seen": seen, "watermark": watermark}, outcome, (level,))

    return FeedProcessor("noise", record_by_record(process))


def simulate_noise(hour: SimulatedHour) -> list[tuple[str, dict[str, Any]]]:
    local = hour.end.astimezone(hour.zone)
    level = 55.0 + (10.0 if 7 <= local.hour <= 19 else 0.0)  # day and night
    return [(s.id, {"monitor": s.id, "observed_at": hour.end.isoformat(), "leq_db": level}) for s in hour.sites]


NOISE = Feed(
    name="noise",
    record=NoiseReading,
    site=NoiseMonitor,
    sites="monitors",
    time_fields=("observed_at",),
    lateness={"reading": LATENESS},
    processor=noise_processor,
    simulate=simulate_noise,
    indicators=(LEQ_1H,),
)

# --- its registry rows ---------------------------------------------------------------------------------------------

SAMPLE = yaml.safe_load((REPO_ROOT / "registry/wujiang-sample.yaml").read_text(encoding="utf-8"))
ROWS = {
    "departments": [
        *SAMPLE["departments"],
        {"id": "noise-office", "name_zh": "噪声监测站", "name_en": "Noise Monitoring Office", "feeds": ["noise"]},
    ],
    "monitors": [
        {"id": "nz-1", "name_zh": "一号", "name_en": "One", "lon": 120.64, "lat": 31.16, "department": "noise-office"},
        {"id": "nz-2", "name_zh": "二号", "name_en": "Two", "lon": 120.65, "lat": 30.92, "department": "noise-office"},
    ],
}
for monitor, road in zip(ROWS["monitors"], ("G318", "S227"), strict=True):
    monitor["road"] = road

RULE = """
rules:
  - id: noise-leq-over-70
    description: A roadside monitor's hourly level is above 70 dB(A).
    indicator: noise.leq.1h
    condition: {op: ">", value: 70}
    severity: warning
    department: noise-office
    source: the test's own threshold (GB 3096 class 4a daytime limit)
"""

TOPICS = Topics("newfeed")
NOISE_TOPIC = TOPICS.feed("noise", "noise-office")
PARTITIONS = 4
RECENT = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    # The worker's gauges of this test's run, apart from the process-wide ones other tests read.
    monkeypatch.setattr(metrics, "INDICATORS", metrics.IndicatorExposition())
    with FEEDS.adding(NOISE):
        yield registry_from_data({**SAMPLE, **ROWS})


def reading(monitor: str, hour: int, leq: float, **more: Any) -> dict[str, Any]:
    return {"monitor": monitor, "observed_at": (RECENT + dt.timedelta(hours=hour)).isoformat(), "leq_db": leq, **more}


def event(monitor: str, records: list[dict[str, Any]], offset: int) -> FakeEvent:
    (value,) = encode_batches([FEEDS["noise"].parse(r) for r in records])
    where = Message(NOISE_TOPIC, partition_of(monitor, PARTITIONS), offset)
    return FakeEvent(monitor.encode(), value, {RECEIPT_HEADER: b"r-noise"}, where)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    for shipped in (REPO_ROOT / "rules").glob("*.yaml"):
        shutil.copy(shipped, tmp_path)
    (tmp_path / "noise.yaml").write_text(RULE, encoding="utf-8")
    return tmp_path


def pipeline(registry: Registry, table: Table, outputs: Outputs, rules_dir: Path = REPO_ROOT / "rules") -> Pipeline:
    rules = load_rules(rules_dir, registry)
    return worker_pipeline(
        table, outputs, registry=registry, rules=rules, topics=TOPICS, feed_topics={NOISE_TOPIC: "noise"}
    )


# --- the tests -----------------------------------------------------------------------------------------------------


def test_the_catalogue_lists_the_feed_only_while_it_is_added(registry: Registry) -> None:
    assert "noise" in FEEDS and SITE_FIELDS["noise"] == "monitor"
    assert json_schemas()["noise"]["properties"]["leq_db"]["maximum"] == 140
    assert [s.id for s in registry.sites_for_feed("noise")] == ["nz-1", "nz-2"]
    assert registry.may_publish("noise-office", "noise", "nz-1")
    assert "noise" not in backfill_feeds()
    road = registry.site("nz-2")
    assert isinstance(road, NoiseMonitor) and road.road == "S227"


def test_without_the_feed_its_rows_are_refused_by_name() -> None:
    assert "noise" not in FEEDS
    with pytest.raises(RegistryError) as refused:
        registry_from_data({**SAMPLE, **ROWS})
    text = str(refused.value)
    assert "departments[3].feeds[0]: Value error, unknown feed 'noise'" in text
    assert "monitors: Extra inputs are not permitted" in text


def test_its_registry_rows_are_checked_like_any_site(registry: Registry) -> None:
    rows = json.loads(json.dumps(ROWS))
    rows["monitors"][1]["department"] = "transport"  # publishes bus and mode_share, not noise
    del rows["monitors"][0]["road"]
    with pytest.raises(RegistryError) as refused:
        registry_from_data({**SAMPLE, **rows})
    text = str(refused.value)
    assert "monitors[0].road: Field required" in text
    assert "monitors[1].department: department 'transport' does not publish the noise feed" in text


def test_admission_judges_its_records_by_its_description(registry: Registry) -> None:
    record = FEEDS["noise"].parse(reading("nz-1", 1, 60))
    bounds = WorkerSettings().clock_bounds()
    now = dt.datetime.now(dt.UTC)
    assert admission(registry, "noise-office", "noise", record, bounds, now) is None
    refusal = admission(registry, "environment", "noise", record, bounds, now)
    assert refusal is not None and refusal.forbidden
    assert refusal.errors[0].field == "monitor"


def test_its_records_run_through_the_worker_pipeline(registry: Registry, rules_dir: Path) -> None:
    table, outputs = Table(), Outputs()
    events = [
        event("nz-1", [reading("nz-1", 1, 61.5), reading("nz-1", 2, 73.0)], 0),
        event("nz-2", [reading("nz-2", 5, 58.0)], 1),
        event("nz-2", [reading("nz-2", 1, 70.0)], 2),  # 4 h behind nz-2's newest: over the feed's 2 h lateness
    ]
    asyncio.run(pipeline(registry, table, outputs, rules_dir).feed_batch(events))

    levels = {(r.site, r.value) for _, value in outputs.on(TOPICS.indicators) for r in records_in(value)}
    assert levels == {("nz-1", 61.5), ("nz-1", 73.0), ("nz-2", 58.0)}
    judged = [json.loads(value) for _, value in outputs.on(TOPICS.rule_evaluations)]
    breaches = [(e["rule_id"], e["site"], e["value"]) for e in judged if e["outcome"] == "breach"]
    assert breaches == [("noise-leq-over-70", "nz-1", 73.0)]
    (letter,) = [json.loads(value) for _, value in outputs.on(TOPICS.dead_letter)]
    assert letter["outcome"] == "too-late" and letter["errors"][0]["field"] == "observed_at"
    assert letter["feed"] == "noise"
    outcomes = sorted(o for _, receipt in outputs.on(TOPICS.receipts) for _, o in json.loads(receipt)["outcomes"])
    assert outcomes == ["new", "new", "new", "too-late"]
    assert table.written_in["nz-1"] == partition_of("nz-1", PARTITIONS)
    assert 'citywatch_noise_leq_dba{site="nz-1",window="1h",standard=""} 73.0' in metrics.INDICATORS.render()

    again = Outputs()  # the same batch read again after a crash: nothing counts twice
    asyncio.run(pipeline(registry, table, again, rules_dir).feed_batch(events[:2]))
    assert again.on(TOPICS.indicators) == []


def test_a_refused_record_names_the_feeds_field(registry: Registry) -> None:
    table, outputs = Table(), Outputs()
    loud = FakeEvent(
        b"nz-1",
        json.dumps(reading("nz-1", 1, 190)).encode(),
        {},
        Message(NOISE_TOPIC, partition_of("nz-1", PARTITIONS), 0),
    )
    asyncio.run(pipeline(registry, table, outputs).feed_batch([loud]))
    (letter,) = [json.loads(value) for _, value in outputs.on(TOPICS.dead_letter)]
    assert letter["errors"][0]["field"] == "leq_db"
    assert "less than or equal to 140" in letter["errors"][0]["reason"]
    assert outputs.on(TOPICS.indicators) == []


def test_the_simulator_posts_it_as_its_department(registry: Registry) -> None:
    zone = WorkerSettings().zone
    start = dt.datetime(2026, 6, 1, 0, tzinfo=zone)
    scenario = Scenario(registry, seed=7, start=start, zone=zone, incidents=())
    noise = [b for b in scenario.emissions(9) if b.feed == "noise"]
    assert [(b.department, len(b.records)) for b in noise] == [("noise-office", 2)]
    assert {r["leq_db"] for r in noise[0].records} == {65.0}  # 10:00 local: daytime
    for record in noise[0].records:
        FEEDS["noise"].parse(record)
