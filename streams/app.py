"""The faust worker app: topics, tables and agents wired from settings.

Two agents, each a thin loop over batches of Kafka records (`stream.take_events`):

- `feed_readings` reads every department's topic of every feed, groups the batch by site, and per site calls the
  feed's pure processor (`streams/processors.py` → `citywatch.indicators`) once for all its readings;
- `district_stage` reads the per-site contributions and computes the district indicators that need every site.

Per site: publish the changed indicators (and their rule evaluations) and contributions, then store the new state
(with the site's rule state: the values windowed and rate rules look back on, `rules:<site>`). Publishing before
storing means a crash in between replays the readings instead of losing their outputs; the
replay is then dropped by the state's dedup ledger only if the state was stored, otherwise recomputed to the same
records. Outputs are idempotent (keyed indicator buckets with revisions, alert fingerprints), so at-least-once
delivery is safe; faust's exactly-once mode is not used (see the faust notes in docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
from aiohttp.web import Response as HttpResponse
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.streams import _current_event
from faust.types import TP
from faust.types import EventT as FaustEvent
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import ValidationError

from citywatch.clock import ProcessingClock
from citywatch.indicators import district_parts
from citywatch.indicators.bus import fleet_clean_energy_share
from citywatch.indicators.district import DistrictState
from citywatch.indicators.district_parts import DistrictIndex
from citywatch.indicators.records import Contribution
from citywatch.registry import load_registry
from citywatch.rules.engine import RuleEngine
from citywatch.rules.evaluation import RuleEvaluation
from citywatch.rules.loader import load_rules
from citywatch.rules.model import Rule
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.schemas.feeds import SITE_FIELDS, TIME_FIELDS, FeedRecord, parse_record
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.settings import WorkerSettings
from citywatch.topics import STATE_TABLE, Topics
from services.kafka_client import faust_credentials
from services.topics import grants
from streams import metrics
from streams.batches import batches
from streams.commits import WorkerApp
from streams.outputs import OutputProducer
from streams.processors import district_processor, feed_processors
from streams.rules import RuleSource, partition_of, rules_key
from streams.stall import StallWatch

log = logging.getLogger("citywatch.worker")

Event = FaustEvent[bytes]


@contextmanager
def current_event(event: Event) -> Iterator[None]:
    """Make `event` the one faust's tables see as current.

    A table read or write goes to the store partition (and changelog partition) of the *current* event; inside a
    batch that is the batch's last event, not the one whose site we are updating. Each site's state must live in
    its own partition or another worker would restore it after a rebalance, so every site is handled as if its own
    last event were current.
    """
    import weakref

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def create_app(settings: WorkerSettings) -> faust.App:
    topics = Topics(settings.topic_prefix)
    registry = load_registry(Path(settings.registry_file))
    rules = load_rules(Path(settings.rules_dir), registry)
    log.info("loaded %d rules from %s and the site registry %s", len(rules), settings.rules_dir, settings.registry_file)

    app = WorkerApp(
        settings.worker_app_id,
        broker=[f"kafka://{h}" for h in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        store=settings.worker_store,
        datadir=settings.worker_data_dir,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        web_bind=settings.worker_web_host,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.worker_instance_id or None,
        broker_request_timeout=max(settings.kafka_request_timeout_ms / 1000, settings.worker_session_timeout_s),
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 10,
        producer_acks=-1,
        table_cleanup_interval=3600.0,
        table_standby_replicas=settings.worker_standby_replicas,
    )
    _serve_metrics(app)
    metrics.export_site_info(registry)
    clock = ProcessingClock(settings.clock_start_at, settings.clock_speed)
    engine = RuleEngine(rules, registry, started=clock.now())
    rule_source = RuleSource(engine, Path(settings.rules_dir), registry)
    _serve_rule_reload(app, rule_source)
    log.info("processing clock: %r", clock)

    def topic(*names: str) -> faust.TopicT:
        return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    contributions_topic = topic(topics.contributions)
    outputs = OutputProducer(settings)

    async def stop_outputs(sender: Any, *args: Any, **kwargs: Any) -> None:
        await outputs.stop()

    app.on_before_shutdown.connect(cast(Any, stop_outputs))  # after the consumer stopped: no send follows
    publishers = grants(registry)

    # Every send of a batch is collected and awaited (the broker's acknowledgement) before any state of the batch
    # is stored: a state saved while its outputs sat in the producer's buffer would, after a crash, turn the replayed
    # readings into duplicates and their outputs would be lost.
    Sent = list[Awaitable[Any]]

    async def reject(sent: Sent, feed: str, payload: bytes, errors: list[FieldError], outcome: str = "invalid") -> None:
        letter = DeadLetter(
            feed=feed,
            stage="worker",
            errors=errors,
            payload=payload.decode("utf-8", errors="replace"),
            received_at=datetime.now(UTC),
        )
        metrics.readings(feed, outcome).inc()
        sent.append(await outputs.send(topics.dead_letter, feed.encode(), letter.model_dump_json().encode()))

    async def send_evaluations(sent: Sent, evaluations: Sequence[RuleEvaluation]) -> None:
        for result in evaluations:
            metrics.evaluations(result.rule_id, result.outcome).inc()
            sent.append(
                await outputs.send(
                    topics.rule_evaluations, result.fingerprint.encode(), result.model_dump_json().encode()
                )
            )

    async def retire_rules(removed: list[Rule]) -> None:
        sent: Sent = []
        await send_evaluations(sent, engine.retirements(removed, clock.now()))
        await asyncio.gather(*sent)

    rule_source.retire = retire_rules

    async def publish(
        sent: Sent, records: Sequence[IndicatorRecord], contributions: Sequence[Contribution] = ()
    ) -> None:
        received_at = clock.now()
        for record in records:
            metrics.observe_indicator(record)
            sent.append(await outputs.send(topics.indicators, record.key.encode(), record.model_dump_json().encode()))
            await send_evaluations(sent, engine.on_record(record, received_at))
        for contribution in contributions:
            sent.append(
                await outputs.send(
                    topics.contributions, contribution.district.encode(), contribution.model_dump_json().encode()
                )
            )

    # One table for every keyed state (site ids are unique across feeds; districts are prefixed), with RocksDB
    # memory sized by settings: faust's defaults reserve 2.5 GB of block cache per table partition.
    state = app.Table(
        STATE_TABLE, default=None, partitions=settings.topic_partitions, options=settings.rocksdb_options()
    )
    processors = feed_processors(registry, settings)
    # One agent over every department's topic of every feed, dispatching by the topic's feed: a faust worker
    # with one agent per feed sometimes consumed nothing after a restart (see the note on issue 5).
    feed_topics = {topics.feed(feed, d): feed for d, feeds in sorted(publishers.items()) for feed in sorted(feeds)}

    async def check(sent: Sent, event: Event) -> tuple[str, FeedRecord] | None:
        """The event's feed and parsed record, or None after dead-lettering it with the reason."""
        raw: bytes = event.value
        feed = feed_topics[event.message.topic]
        try:
            record = parse_record(feed, raw)
        except ValidationError as exc:
            await reject(sent, feed, raw, field_errors(exc))
            return None
        site = record.site_id
        if event.key is not None and event.key != site.encode():
            # Tables are partitioned by the message key; a mismatched key would split a site's state.
            await reject(sent, feed, raw, [FieldError(field="key", reason="message key must equal the site id")])
            return None
        department = topics.department_of(event.message.topic)
        if not registry.may_publish(department, feed, site):
            reason = (
                f"{site!r} is not among department {department!r}'s {feed} sites, "
                "yet its topic carried it (see the site registry)"
            )
            await reject(sent, feed, raw, [FieldError(field=SITE_FIELDS[feed], reason=reason)])
            return None
        return feed, record

    async def process_site(
        sent: Sent, feed: str, site: str, events: list[Event], records: list[FeedRecord]
    ) -> list[Callable[[], None]]:
        """Compute and publish; return the stores of the site's new states, to run once the batch is acknowledged."""
        result = processors[feed].process_batch(state.get(site), records)
        for event, outcome in zip(events, result.outcomes, strict=True):
            if outcome.dead_letter:
                field = TIME_FIELDS[feed]
                await reject(sent, feed, event.value, [FieldError(field=field, reason=outcome.reason)], "too-late")
            else:
                metrics.readings(feed, outcome.kind).inc()
        stores = await publish_with_rules(sent, events[-1], result.records, result.contributions)
        return [store_later(events[-1], site, result.state), *stores]

    async def publish_with_rules(
        sent: Sent, event: Event, records: Sequence[IndicatorRecord], contributions: Sequence[Contribution] = ()
    ) -> list[Callable[[], None]]:
        """`publish`, with the rule state of the records' sites loaded from the table first; returns the stores of
        the states that changed, in the partition of `event` (the records' sites are the site or district whose
        events these are)."""
        sites = sorted({r.site for r in records})
        with current_event(event):
            before = {site: state.get(rules_key(site)) for site in sites}
        for site in sites:
            engine.load_site(site, before[site])
        await publish(sent, records, contributions)
        after = {site: engine.export_site(site) for site in sites}
        return [store_later(event, rules_key(site), after[site]) for site in sites if after[site] != before[site]]

    def delete_later(event: Event, key: str) -> Callable[[], None]:
        def delete() -> None:
            with current_event(event):
                del state[key]

        return delete

    def store_later(event: Event, key: str, value: Any) -> Callable[[], None]:
        """The table write of one key, in the partition of its own last event, to run once the batch's outputs are
        acknowledged."""

        def store() -> None:
            with current_event(event):
                state[key] = value

        return store

    @app.agent(topic(*feed_topics))
    async def feed_readings(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.worker_batch_size, within=settings.worker_batch_within_s):
            sent: Sent = []
            by_site: dict[tuple[str, str], tuple[list[Event], list[FeedRecord]]] = {}
            for event in batch:
                checked = await check(sent, event)
                if checked is None:
                    continue
                feed, record = checked
                events, records = by_site.setdefault((feed, record.site_id), ([], []))
                events.append(event)
                records.append(record)
            stores = []
            for (feed, site), (events, records) in by_site.items():
                with current_event(events[-1]):
                    stores += await process_site(sent, feed, site, events, records)
            await asyncio.gather(*sent)
            for store in stores:
                store()
            now = time.time()
            for (feed, _), (events, _) in by_site.items():
                for event in events:
                    metrics.latency(feed).observe(max(0.0, now - event.message.timestamp / 1000))

    process_district = district_processor(settings)
    # The district states as last stored by this worker (the table holds them in parts,
    # citywatch/indicators/district_parts.py): loading every part for every batch would cost more than the batch.
    # Forgotten when partitions are revoked.
    district_states: dict[str, tuple[DistrictState | None, DistrictIndex | None]] = {}

    @app.agent(contributions_topic)
    async def district_stage(stream: faust.StreamT[bytes]) -> None:
        """Second stage, keyed by district: indicators that need every site (city AQI, 优Ⅲ share, ...)."""
        async for batch in batches(stream, settings.worker_batch_size, within=settings.worker_batch_within_s):
            by_district: dict[str, tuple[list[Event], list[Contribution]]] = {}
            for event in batch:
                contribution = Contribution.model_validate_json(event.value)
                events, contributions = by_district.setdefault(contribution.district, ([], []))
                events.append(event)
                contributions.append(contribution)
            sent: Sent = []
            stores = []
            for district, (events, contributions) in by_district.items():
                if district in district_states:
                    before, index = district_states[district]
                else:
                    with current_event(events[-1]):
                        before, index = district_parts.load(district, state.get)
                result = process_district(before, contributions)
                stores += await publish_with_rules(sent, events[-1], result.records)
                changes, new_index = district_parts.changes(district, before, index, result.state)
                stores += [store_later(events[-1], key, value) for key, value in changes.writes.items()]
                stores += [delete_later(events[-1], key) for key in changes.deletes]
                stores.append(partial(district_states.__setitem__, district, (result.state, new_index)))
            await asyncio.gather(*sent)
            for store in stores:
                store()

    async def publish_fleet_share() -> None:
        """The registry's fleet, as of today: not a feed, so the group leader publishes it at start and hourly.
        Outside any event there is no partition to store rule state in; its rules need none (instant rules)."""
        today = datetime.now(settings.zone).date()
        drives = [str(v.energy_type) for v in registry.fleet]
        record = fleet_clean_energy_share(drives, district=settings.district, on=today, zone=settings.zone)
        if record is not None:
            sent: Sent = []
            await publish(sent, [record])
            await asyncio.gather(*sent)

    app.task(publish_fleet_share, on_leader=True)
    app.timer(3600.0, on_leader=True)(publish_fleet_share)

    stall = StallWatch(
        app, {*feed_topics, topics.contributions}, settings.worker_stall_after_s, settings.worker_stall_exit_after_s
    )

    def owner(assigned: set[TP]) -> Callable[[str], bool]:
        """Whether this worker reads a site's feed partition: it then judges the site's staleness, with the arrivals
        it processed itself and the rule state in its own table partition."""

        def owns(site: str) -> bool:
            if not registry.has_site(site):
                return False
            found = registry.site(site)
            feed_topic = topics.feed(found.feed, found.department)
            partitions = app.consumer.topic_partitions(feed_topic) or settings.topic_partitions
            return TP(feed_topic, partition_of(site, partitions)) in assigned

        return owns

    @app.timer(settings.worker_staleness_interval_s)  # type: ignore[untyped-decorator]
    async def staleness() -> None:
        if app.rebalancing or app.in_recovery:
            return  # the table partitions may be half restored
        owns = owner(app.consumer.assignment())
        for site in engine.watched():
            if owns(site) and not engine.is_loaded(site):
                engine.load_site(site, state.get(rules_key(site)))
        sent: Sent = []
        await send_evaluations(sent, engine.stale(clock.now(), owns))
        await asyncio.gather(*sent)

    async def on_partitions_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        """The sites this worker owns are about to change: load their rule state afresh from the table."""
        engine.forget(clock.now())
        district_states.clear()

    app.on_partitions_revoked.connect(cast(Any, on_partitions_revoked))  # mode's handler type rejects any coroutine

    @app.timer(settings.worker_rules_check_interval_s)  # type: ignore[untyped-decorator]
    async def rule_files() -> None:
        await rule_source.reload_if_changed()

    async def reload_on_sighup() -> None:
        pending: set[asyncio.Task[Any]] = set()

        def on_sighup() -> None:
            task = asyncio.create_task(rule_source.reload("SIGHUP"))
            pending.add(task)
            task.add_done_callback(pending.discard)

        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, on_sighup)

    app.task(reload_on_sighup)

    @app.timer(settings.worker_lag_interval_s)  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        metrics.observe_lag(app.consumer)
        await stall.check(time.monotonic())

    return app


def _exposition(names: frozenset[str] = frozenset()) -> bytes:
    """The worker's metrics; with `names` (`?name[]=...`, as prometheus_client's own handlers take it) only those
    of its process metrics: a full page at 100,000 sites is tens of MB, too much for a tool polling one counter."""
    if names:
        return generate_latest(REGISTRY.restricted_registry(names))
    return generate_latest(REGISTRY) + metrics.site_info_text() + metrics.INDICATORS.render().encode()


def _serve_metrics(app: faust.App) -> None:
    """faust's Prometheus sensors, served from a thread: rendering many series must not stall the event loop."""
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, metrics.FAUST_PREFIX))

    @app.page("/metrics")
    async def metrics_page(self: View, request: Request) -> Response:
        query: Any = request.query  # aiohttp's MultiDict behind faust's Mapping type
        body = await asyncio.to_thread(_exposition, frozenset(query.getall("name[]", [])))
        return cast(Response, HttpResponse(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST}))

    del metrics_page  # registered by the decorator


def _serve_rule_reload(app: faust.App, rule_source: RuleSource) -> None:
    """`POST /rules/reload` on the worker's web port: reload the rule files now (200, or 422 with the problems
    when the running rules were kept)."""

    @app.page("/rules/reload")
    class RulesReload(View):
        async def post(self, request: Request) -> Response:
            result = await rule_source.reload("POST /rules/reload")
            return self.json(result.as_json(), status=422 if result.outcome == "failed" else 200)

    del RulesReload  # registered by the decorator
