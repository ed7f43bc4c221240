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
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
from citywatch.indicators.batch import guarded
from citywatch.indicators.bus import fleet_clean_energy_share
from citywatch.indicators.district import DistrictState, archive_scope, rolled_out, scopes_of
from citywatch.indicators.district_parts import DistrictIndex
from citywatch.indicators.eventtime import Failed, Outcome, Refused, TooLate
from citywatch.indicators.lanes import LaneProcessor, Lanes, history_key, run_lanes
from citywatch.indicators.records import Contribution
from citywatch.intake import admission
from citywatch.registry import load_registry
from citywatch.rules.engine import RuleEngine
from citywatch.rules.evaluation import RuleEvaluation
from citywatch.rules.loader import load_rules
from citywatch.rules.model import Rule
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.schemas.feed_batch import BatchError, FeedPayload, payloads_of
from citywatch.schemas.feeds import TIME_FIELDS, FeedRecord, identity_of, parse_record
from citywatch.schemas.indicator import IndicatorRecord, encode_updates
from citywatch.schemas.receipt import BACKFILL_FEEDS, HISTORY_LANE, LANE_HEADER, REFUSALS, WorkerOutcome
from citywatch.settings import WorkerSettings
from citywatch.topics import STATE_TABLE, Topics
from services.kafka_client import faust_credentials
from services.topics import grants
from streams import metrics
from streams.batches import batches
from streams.commits import WorkerApp
from streams.outputs import OutputProducer
from streams.processors import district_processor, feed_processors
from streams.receipts import ReceiptBook, receipt_of, source_of
from streams.rules import RuleSource, history_rules_key, partition_of, rules_key
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
        # The web port serves /metrics, /healthz and (with a token) /rules/reload only: faust's own pages would
        # show table contents (dedup records, rule state) and the partition router to anyone who can reach it.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
    )
    _serve_metrics(app)
    metrics.export_site_info(registry)
    zone = settings.zone  # a property that builds its ZoneInfo: read once, not per record
    metrics.export_holiday_calendar(registry.holiday_calendar, datetime.now(zone).date(), zone)
    clock = ProcessingClock(settings.clock_start_at, settings.clock_speed, follows_events=settings.clock_follows_events)
    engine = RuleEngine(rules, registry, started=clock.now())
    bounds = settings.clock_bounds()
    # Backfilled history is judged by the same rules in an engine of its own: its alerts are incidents of the past,
    # recorded and never sent to on-call, and its memory of a site's values never mixes with the live one's.
    history_engine = RuleEngine(rules, registry, started=clock.now(), historical=True)
    live_rules = RuleLane(engine, rules_key, live=True)
    past_rules = RuleLane(history_engine, history_rules_key, live=False)
    rule_source = RuleSource(engine, Path(settings.rules_dir), registry, also=(history_engine,))
    _serve_pages(app, rule_source, settings.worker_admin_token)
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

    async def reject(
        sent: Sent,
        book: ReceiptBook,
        feed: str,
        item: FeedItem,
        errors: list[FieldError],
        outcome: WorkerOutcome,
        record: FeedRecord | None = None,
    ) -> None:
        """Dead-letter one feed record with the reason, for its department (`/v1/rejections`) and its receipt."""
        event = item.event
        department = topics.department_of(event.message.topic)
        receipt = receipt_of(event.headers)
        letter = DeadLetter(
            feed=feed,
            stage="worker",
            errors=errors,
            payload=item.payload.text(),
            received_at=datetime.now(UTC),
            department=department,
            outcome=outcome,
            **identity_of(record),
            receipt=receipt,
            source=item.where,
        )
        metrics.readings(feed, outcome).inc()
        metrics.dead_letters(feed, outcome).inc()
        book.note(receipt, department, feed, item.source, outcome, f"{errors[0].field}: {errors[0].reason}")
        sent.append(await outputs.send(topics.dead_letter, feed.encode(), letter.model_dump_json().encode()))

    def judged(book: ReceiptBook, feed: str, item: FeedItem, outcome: WorkerOutcome) -> None:
        """A record that was not refused: counted, and noted for its receipt."""
        metrics.readings(feed, outcome).inc()
        event = item.event
        book.note(receipt_of(event.headers), topics.department_of(event.message.topic), feed, item.source, outcome)

    async def send_receipts(sent: Sent, book: ReceiptBook) -> None:
        for update in book.updates():
            sent.append(await outputs.send(topics.receipts, update.receipt.encode(), update.model_dump_json().encode()))

    async def send_evaluations(sent: Sent, evaluations: Sequence[RuleEvaluation]) -> None:
        for result in evaluations:
            metrics.evaluations(result.rule_id, result.outcome).inc()
            sent.append(
                await outputs.send(
                    topics.rule_evaluations, result.fingerprint.encode(), result.model_dump_json().encode()
                )
            )

    async def retire_rules(removed: list[Rule], narrowed: list[tuple[Rule, Rule]]) -> None:
        sent: Sent = []
        await send_evaluations(sent, engine.retirements(removed, clock.now(), narrowed))
        await asyncio.gather(*sent)

    rule_source.retire = retire_rules

    async def publish(
        sent: Sent,
        records: Sequence[IndicatorRecord],
        contributions: Sequence[Contribution] = (),
        rules: RuleLane | None = None,
    ) -> None:
        rules = rules or live_rules
        received_at = clock.now()
        by_site: dict[str, list[IndicatorRecord]] = {}
        for record in records:
            by_site.setdefault(record.site, []).append(record)
        for site, changed in by_site.items():  # one update per site (citywatch/schemas/indicator.py)
            for update in encode_updates(site, changed):
                sent.append(await outputs.send(topics.indicators, site.encode(), update))
        for record in records:
            if rules.live:  # the gauges show current values; a backfill's past ones are on the topic only
                metrics.observe_indicator(record)
            try:
                evaluations = rules.engine.on_record(record, received_at)
            except Exception:  # a rule that breaks on one value must not stop the partition: logged and counted
                metrics.RULE_ERRORS.inc()
                log.exception(
                    "rule evaluation failed on %s at %s; its rules were skipped", record.bucket_key, record.site
                )
                continue
            await send_evaluations(sent, evaluations)
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
    for feed in sorted(set(feed_topics.values())):  # exported as 0 from the start, so an increase has a base
        for outcome in REFUSALS:
            metrics.dead_letters(feed, outcome)

    async def check(sent: Sent, book: ReceiptBook, event: Event) -> list[tuple[str, FeedItem, FeedRecord]]:
        """The feed records of one message (one, or a feed batch's), each with its feed, after the same admission as
        the gateway's (schema, registry, bounded clocks) and a check of the partition the site's state lives on;
        those refused are dead-lettered with the reason."""
        feed = feed_topics[event.message.topic]
        try:
            payloads = payloads_of(event.value)
        except BatchError as exc:
            whole = FeedItem(event, FeedPayload(None, event.value))
            await reject(sent, book, feed, whole, [FieldError(field="(batch)", reason=exc.reason)], "invalid")
            return []
        out = []
        for payload in payloads:
            item = FeedItem(event, payload)
            record = await admit(sent, book, feed, item)
            if record is not None:
                out.append((feed, item, record))
        return out

    async def admit(sent: Sent, book: ReceiptBook, feed: str, item: FeedItem) -> FeedRecord | None:
        """One record parsed and admitted, or None after dead-lettering it with the reason."""
        event, message = item.event, item.event.message
        raw = item.payload.raw
        try:
            record = parse_record(feed, raw)
        except ValidationError as exc:
            await reject(sent, book, feed, item, field_errors(exc), "invalid")
            return None
        except Exception as exc:  # bytes no parser foresaw: kept with the reason, the partition moves on
            reason = f"could not be read ({type(exc).__name__}: {exc})"
            await reject(sent, book, feed, item, [FieldError(field="(record)", reason=reason)], "invalid")
            return None
        site = record.site_id
        if event.key is not None and event.key != site.encode():
            # Tables are partitioned by the message key; a mismatched key would split a site's state.
            errors = [FieldError(field="key", reason="message key must equal the site id")]
            await reject(sent, book, feed, item, errors, "invalid", record)
            return None
        expected = partition_of(site, app.consumer.topic_partitions(message.topic) or settings.topic_partitions)
        if message.partition != expected:
            await reject(sent, book, feed, item, [wrong_partition(site, message, expected)], "wrong-partition", record)
            return None
        department = topics.department_of(message.topic)
        refusal = admission(registry, department, feed, record, bounds, datetime.now(UTC))
        if refusal is not None:
            outcome: WorkerOutcome = "forbidden" if refusal.forbidden else "invalid"
            await reject(sent, book, feed, item, list(refusal.errors), outcome, record)
            return None
        if is_history(event) and processors[feed].lanes is None:
            reason = f"history backfill is available for the {', '.join(sorted(BACKFILL_FEEDS))} feed, not {feed}"
            await reject(
                sent, book, feed, item, [FieldError(field=f"(header {LANE_HEADER})", reason=reason)], "invalid", record
            )
            return None
        return record

    async def process_site(
        sent: Sent, book: ReceiptBook, feed: str, site: str, items: list[FeedItem], records: list[FeedRecord]
    ) -> list[Callable[[], None]]:
        """Compute and publish; return the stores of the site's new states, to run once the batch is acknowledged.
        A record whose processing raises is dead-lettered and the others count (`guarded`). A feed with lanes folds
        the site's live and history states together (`citywatch.indicators.lanes`)."""
        processor = processors[feed]
        if processor.lanes is not None:
            return await process_lanes(sent, book, feed, site, items, records, processor.lanes)
        result, failures = guarded(processor.process_batch, state.get(site), records)
        for index, exc in failures:
            log.error("%s record %s of %s could not be processed; dead-lettered", feed, index, site, exc_info=exc)
        await report_outcomes(sent, book, feed, items, records, result.outcomes)
        last = items[-1].event
        stores = await publish_with_rules(sent, last, result.records, result.contributions)
        if result.state is None:  # every record failed on a site without state: nothing to store
            return stores
        return [store_later(last, site, result.state), *stores]

    async def process_lanes(
        sent: Sent,
        book: ReceiptBook,
        feed: str,
        site: str,
        items: list[FeedItem],
        records: list[FeedRecord],
        lanes: LaneProcessor[Any, Any],
    ) -> list[Callable[[], None]]:
        """`process_site` for a feed whose history can be backfilled: the site's live and history lanes."""
        before = Lanes[Any](state.get(site), state.get(history_key(site)))
        inputs = [(record, is_history(item.event)) for item, record in zip(items, records, strict=True)]
        result, failures = guarded(partial(run_lanes, lanes), before, inputs)
        for index, exc in failures:
            log.error("%s record %s of %s could not be processed; dead-lettered", feed, index, site, exc_info=exc)
        await report_outcomes(sent, book, feed, items, records, result.outcomes)
        last = items[-1].event
        stores = await publish_with_rules(sent, last, result.records, result.contributions)
        stores += await publish_with_rules(sent, last, result.history_records, rules=past_rules)
        after = result.state or before
        if after.live is not None:
            stores.append(store_later(last, site, after.live))
        if after.history is not None:
            stores.append(store_later(last, history_key(site), after.history))
        elif before.history is not None:  # adopted by the live lane
            stores.append(delete_later(last, history_key(site)))
        return stores

    async def report_outcomes(
        sent: Sent,
        book: ReceiptBook,
        feed: str,
        items: list[FeedItem],
        records: list[FeedRecord],
        outcomes: Sequence[Outcome],
    ) -> None:
        """Dead-letter the refused records with their reasons; count and note every outcome."""
        for item, record, outcome in zip(items, records, outcomes, strict=True):
            if isinstance(outcome, Refused | TooLate | Failed):
                field = outcome.field or TIME_FIELDS[feed]
                await reject(
                    sent, book, feed, item, [FieldError(field=field, reason=outcome.reason)], outcome.kind, record
                )
            else:
                judged(book, feed, item, outcome.kind)

    async def publish_with_rules(
        sent: Sent,
        event: Event,
        records: Sequence[IndicatorRecord],
        contributions: Sequence[Contribution] = (),
        rules: RuleLane | None = None,
    ) -> list[Callable[[], None]]:
        """`publish`, with the rule state of the records' sites loaded from the table first; returns the stores of
        the states that changed, in the partition of `event` (the records' sites are the site or district whose
        events these are). `rules`: the live engine, or the history lanes' (historical evaluations)."""
        rules = rules or live_rules
        sites = sorted({r.site for r in records})
        with current_event(event):
            before = {site: state.get(rules.key(site)) for site in sites}
        for site in sites:
            rules.engine.load_site(site, before[site])
        await publish(sent, records, contributions, rules)
        after = {site: rules.engine.export_site(site) for site in sites}
        return [store_later(event, rules.key(site), after[site]) for site in sites if after[site] != before[site]]

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
            book = ReceiptBook()
            by_site: dict[tuple[str, str], tuple[list[FeedItem], list[FeedRecord]]] = {}
            for event in batch:
                for feed, item, record in await check(sent, book, event):
                    if clock.follows_events:  # the demo's clock only: no work per record otherwise
                        for _, instant in record.observation_fields():
                            if isinstance(instant, datetime):
                                clock.observe(instant)
                    items, records = by_site.setdefault((feed, record.site_id), ([], []))
                    items.append(item)
                    records.append(record)
            stores = []
            for (feed, site), (items, records) in by_site.items():
                with current_event(items[-1].event):
                    stores += await process_site(sent, book, feed, site, items, records)
            await send_receipts(sent, book)
            await asyncio.gather(*sent)
            for store in stores:
                store()
            now = time.time()
            for (feed, _), (items, records) in by_site.items():
                latency, lag = metrics.latency(feed), metrics.event_time_lag(feed)
                for item, record in zip(items, records, strict=True):
                    latency.observe(max(0.0, now - item.event.message.timestamp))  # faust's timestamp is in seconds
                    lag.observe(max(0.0, now - record.event_time(zone).timestamp()))

    process_district = district_processor(settings)
    # The district states (and archives of past years) as last stored by this worker (the table holds them in parts,
    # citywatch/indicators/district_parts.py): loading every part for every batch would cost more than the batch.
    # Forgotten when partitions are revoked.
    district_states: dict[str, tuple[DistrictState | None, DistrictIndex | None]] = {}

    async def reject_contribution(sent: Sent, event: Event, errors: list[FieldError]) -> None:
        """A contribution the district stage cannot use (a bug upstream): kept, and the stage moves on."""
        letter = DeadLetter(
            feed="contributions",
            stage="district",
            errors=errors,
            payload=_text(event.value),
            received_at=datetime.now(UTC),
            outcome="processing-error",
            source=_where(event),
        )
        metrics.dead_letters("contributions", "processing-error").inc()
        sent.append(await outputs.send(topics.dead_letter, b"contributions", letter.model_dump_json().encode()))

    def load_district(scope: str, event: Event) -> tuple[DistrictState | None, DistrictIndex | None]:
        """A district's live state (or one year's archive, `archive_scope`) and its index: as last stored by this
        worker, else from the table."""
        if scope in district_states:
            return district_states[scope]
        with current_event(event):
            return district_parts.load(scope, state.get)

    async def fold_district(
        sent: Sent, scope: str, events: list[Event], contributions: list[Contribution]
    ) -> tuple[list[Callable[[], None]], DistrictState | None]:
        """Fold contributions into one district state, publish what changed (records only history changed are
        judged historical), and return the stores and the new state."""
        before, index = load_district(scope, events[-1])
        result, failures = guarded(process_district, before, contributions)
        for i, failure in failures:
            log.error("contribution %s of %s could not be processed; dead-lettered", i, scope, exc_info=failure)
            await reject_contribution(sent, events[i], [FieldError(field="(record)", reason=result.outcomes[i].reason)])
        if result.state is None:
            return [], None
        live, past = split_historical(result.records, contributions)
        stores = await publish_with_rules(sent, events[-1], live)
        stores += await publish_with_rules(sent, events[-1], past, rules=past_rules)
        changes, new_index = district_parts.changes(scope, before, index, result.state)
        stores += [store_later(events[-1], key, value) for key, value in changes.writes.items()]
        stores += [delete_later(events[-1], key) for key in changes.deletes]
        stores.append(partial(district_states.__setitem__, scope, (result.state, new_index)))
        return stores, result.state

    @app.agent(contributions_topic)
    async def district_stage(stream: faust.StreamT[bytes]) -> None:
        """Second stage, keyed by district: indicators that need every site (city AQI, 优Ⅲ share, ...)."""
        async for batch in batches(stream, settings.worker_batch_size, within=settings.worker_batch_within_s):
            sent: Sent = []
            by_district: dict[str, tuple[list[Event], list[Contribution]]] = {}
            for event in batch:
                try:
                    contribution = Contribution.model_validate_json(event.value)
                except ValidationError as exc:
                    await reject_contribution(sent, event, field_errors(exc))
                    continue
                events, contributions = by_district.setdefault(contribution.district, ([], []))
                events.append(event)
                contributions.append(contribution)
            stores = []
            for district, (events, contributions) in by_district.items():
                before, _ = load_district(district, events[-1])
                scopes: dict[str, tuple[list[Event], list[Contribution]]] = {}
                for event, contribution, scope in zip(
                    events, contributions, scopes_of(district, before, contributions), strict=True
                ):
                    scope_events, scope_contributions = scopes.setdefault(scope, ([], []))
                    scope_events.append(event)
                    scope_contributions.append(contribution)
                live_events, live = scopes.pop(district, ([], []))
                if live:
                    folded, after = await fold_district(sent, district, live_events, live)
                    stores += folded
                    # Buckets the live state dropped (a new year began) move to their year's archive.
                    for moved in [] if after is None else rolled_out(before, after, district, live):
                        scope_events, scope_contributions = scopes.setdefault(
                            archive_scope(district, int(moved.bucket[:4])), ([], [])
                        )
                        scope_events.append(live_events[-1])
                        scope_contributions.append(moved)
                for scope, (scope_events, scope_contributions) in scopes.items():
                    stores += (await fold_district(sent, scope, scope_events, scope_contributions))[0]
            await asyncio.gather(*sent)
            for store in stores:
                store()

    async def publish_fleet_share() -> None:
        """The registry's fleet, as of today: not a feed, so the group leader publishes it at start and hourly.
        Outside any event there is no partition to store rule state in; its rules need none (instant rules)."""
        today = datetime.now(zone).date()
        drives = [str(v.energy_type) for v in registry.fleet]
        record = fleet_clean_energy_share(drives, district=settings.district, on=today, zone=zone)
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
        if not clock.ready:
            return  # following the events, and none yet: no time to judge silence by
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
        history_engine.forget(clock.now())
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


def _serve_pages(app: faust.App, rule_source: RuleSource, token: str) -> None:
    """`GET /healthz`, and `POST /rules/reload` on the worker's web port: reload the rule files now (200, or 422 with the problems
    when the running rules were kept). Only with `Authorization: Bearer <CITYWATCH_WORKER_ADMIN_TOKEN>`; without a
    token configured the endpoint does not exist."""

    @app.page("/healthz")
    async def healthz(self: View, request: Request) -> Response:
        return self.json({"status": "ok"})

    del healthz  # registered by the decorator
    if not token:
        return

    @app.page("/rules/reload")
    class RulesReload(View):
        async def post(self, request: Request) -> Response:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return self.json(
                    {"detail": "send the worker's admin token: Authorization: Bearer <CITYWATCH_WORKER_ADMIN_TOKEN>"},
                    status=401,
                )
            result = await rule_source.reload("POST /rules/reload")
            return self.json(result.as_json(), status=422 if result.outcome == "failed" else 200)

    del RulesReload  # registered by the decorator


def _text(value: Any) -> str:
    """A record's value as text for a dead letter, whatever was sent (bytes, nothing)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _source(event: Event) -> str:
    return source_of(event.message.topic, event.message.partition, event.message.offset)


def _where(event: Event) -> str:
    """Where a dead letter's record was read, as an operator finds it: topic[partition]@offset."""
    return f"{event.message.topic}[{event.message.partition}]@{event.message.offset}"


def wrong_partition(site: str, message: Any, expected: int) -> FieldError:
    """Why a record on the wrong partition does not count: its site's state lives on another one."""
    reason = (
        f"the record for site {site!r} arrived on partition {message.partition} of {message.topic}, but the site's "
        f"state lives on partition {expected}: produce with the site id as the message key and Kafka's default "
        "partitioner (murmur2, as the Java client, kafka-python and aiokafka do); librdkafka clients (confluent-kafka, "
        "node-rdkafka, …) must set partitioner=murmur2_random (docs/kafka-security.md)"
    )
    return FieldError(field="(partition)", reason=reason)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed record of a Kafka message: the message's only one, or one element of a feed batch."""

    event: Event
    payload: FeedPayload

    @property
    def source(self) -> str:
        """Unique per record (receipts count each once): the message's place, and the element's index in a batch."""
        place = _source(self.event)
        return place if self.payload.index is None else f"{place}#{self.payload.index}"

    @property
    def where(self) -> str:
        """Where a dead letter's record was read, as an operator finds it: topic[partition]@offset(#index)."""
        place = _where(self.event)
        return place if self.payload.index is None else f"{place}#{self.payload.index}"


@dataclass(frozen=True)
class RuleLane:
    """A rule engine, where its per-site memory lives in the table, and whether its records are current values."""

    engine: RuleEngine
    key: Callable[[str], str]
    live: bool


def is_history(event: Event) -> bool:
    """Whether a feed record was sent as history (a backfill): the `citywatch-lane: history` header."""
    return (event.headers or {}).get(LANE_HEADER) == HISTORY_LANE.encode()


def split_historical(
    records: Sequence[IndicatorRecord], contributions: Sequence[Contribution]
) -> tuple[list[IndicatorRecord], list[IndicatorRecord]]:
    """District records to judge live, and those only backfilled history changed (judged historical): a record is
    historical when every contribution of its period in the batch came from a history lane."""
    if not any(c.historical for c in contributions):
        return list(records), []
    live_buckets = {c.bucket for c in contributions if not c.historical}
    past_buckets = {c.bucket for c in contributions if c.historical}
    live: list[IndicatorRecord] = []
    past: list[IndicatorRecord] = []
    for record in records:
        period = record.period or ""
        by_history = _touches(period, past_buckets) and not _touches(period, live_buckets)
        (past if by_history else live).append(record)
    return live, past


def _touches(period: str, buckets: set[str]) -> bool:
    """Whether contributions of these buckets feed a record of `period` (a day feeds its month and its year)."""
    return any(b.startswith(period) or period.startswith(b) for b in buckets)
