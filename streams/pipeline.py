"""The worker's per-batch logic, apart from faust: a batch of feed messages (or of contributions) in, outputs and
state out. `streams/app.py` only wires it to faust's agents, table and timers.

For each batch of feed messages:

1. every record is admitted (schema, registry, bounded clocks, the partition its site's state lives on) or
   dead-lettered with the reason; a feed batch's records are judged one by one (`citywatch/schemas/feed_batch.py`);
2. per site, the feed's pure processor folds the site's records into its state (`streams/processors.py`);
3. the site's changed buckets go out as indicator updates, their rule evaluations (changes only) and contributions
   to the district stage; receipts and dead letters too;
4. only once the broker has acknowledged every output of a step (`steps`: at most `CITYWATCH_WORKER_STEP_READINGS`
   readings) are its new states stored. A crash in between replays the batch: the state's dedup ledger drops what
   was stored, the rest is recomputed to the same records.

Everything the logic touches is injected (`StateTable`, `Outputs`, the rule engines, the clock), so it runs on
plain lists and dicts in unit tests (`tests/unit/test_worker_pipeline.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Any, Protocol

from pydantic import ValidationError

from citywatch.clock import ProcessingClock
from citywatch.feeds import FEEDS, FeedProcessor, backfill_feeds, parse_record
from citywatch.indicators import district_parts
from citywatch.indicators.batch import BatchResult, guarded
from citywatch.indicators.district import DistrictState, archive_scope, rolled_out, scopes_of
from citywatch.indicators.district_parts import DistrictIndex
from citywatch.indicators.eventtime import Failed, Outcome, Refused, TooLate
from citywatch.indicators.lanes import LaneProcessor, Lanes, history_key, run_lanes
from citywatch.indicators.records import Contribution
from citywatch.intake import admission
from citywatch.intake.clock import ClockBounds
from citywatch.rule_engine.engine import RuleEngine
from citywatch.rule_engine.evaluation import RuleEvaluation
from citywatch.schemas.dead_letter import DeadLetter, FieldError, field_errors
from citywatch.schemas.feed_batch import BatchError, FeedPayload, payloads_of
from citywatch.schemas.feed_record import FeedRecord, identity_of
from citywatch.schemas.indicator import IndicatorRecord, encode_updates
from citywatch.schemas.receipt import HISTORY_LANE, LANE_HEADER, WorkerOutcome
from citywatch.site_registry import Area, Registry
from citywatch.topics import Topics
from streams import metrics
from streams.receipts import ReceiptBook, receipt_of, source_of
from streams.rule_source import partition_of

log = logging.getLogger("citywatch.worker")


class Message(Protocol):
    """Where a Kafka record was read (faust's `Message` has these, among others)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> float: ...  # seconds


class Event(Protocol):
    """One Kafka record as the pipeline reads it (faust's `EventT[bytes]` has these, among others)."""

    @property
    def key(self) -> Any: ...
    @property
    def value(self) -> Any: ...
    @property
    def headers(self) -> Any: ...  # Mapping[str, bytes] or None
    @property
    def message(self) -> Message: ...


class StateTable(Protocol):
    """The keyed state, read and written in the partition of event `at` (faust: the event made current)."""

    def get(self, key: str, at: Event) -> Any: ...
    def set(self, key: str, value: Any, at: Event) -> None: ...
    def delete(self, key: str, at: Event) -> None: ...


class Outputs(Protocol):
    async def send(self, topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        """Queue one record; the returned awaitable resolves when the broker has acknowledged it."""
        ...


Sent = list[Awaitable[Any]]
"""A batch's queued sends: all awaited before any state of the batch is stored."""


async def settled(sent: Sent) -> list[Any]:
    """Wait until every queued send has an outcome: an acknowledgement or its failure (a failed send nobody awaited
    would be logged by asyncio as never retrieved, and would still be in flight when the batch is tried again)."""
    return await asyncio.gather(*sent, return_exceptions=True)


async def acknowledged(sent: Sent) -> None:
    """Wait until the broker has acknowledged every queued send; raise the first failure once all have an outcome
    (the batch is then tried again, streams/batch_retry.py)."""
    for outcome in await settled(sent):
        if isinstance(outcome, BaseException):
            raise outcome


Store = Callable[[], None]


@dataclass(frozen=True)
class RuleLane:
    """A rule engine, where its per-site memory lives in the table, and whether its records are current values."""

    engine: RuleEngine
    key: Callable[[str], str]
    live: bool


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed record of a Kafka message: the message's only one, or one element of a feed batch."""

    event: Event
    payload: FeedPayload

    @property
    def source(self) -> str:
        """Unique per record (receipts count each once): the message's place, and the element's index in a batch."""
        place = source_of(self.event.message.topic, self.event.message.partition, self.event.message.offset)
        return place if self.payload.index is None else f"{place}#{self.payload.index}"

    @property
    def where(self) -> str:
        """Where a dead letter's record was read, as an operator finds it: topic[partition]@offset(#index)."""
        place = where(self.event)
        return place if self.payload.index is None else f"{place}#{self.payload.index}"


@dataclass(frozen=True)
class PipelineSetup:
    """What the pipeline is built from (besides its table, outputs and rule lanes)."""

    topics: Topics
    registry: Registry
    feed_topics: Mapping[str, str]  # topic -> feed
    processors: Mapping[str, FeedProcessor]
    process_district: Callable[[Any, Sequence[Contribution]], BatchResult[Any]]
    bounds: ClockBounds
    zone: tzinfo
    default_partitions: int
    step_readings: int = 2000  # CITYWATCH_WORKER_STEP_READINGS


class Pipeline:
    """One worker's per-batch logic over an injected table, outputs, rule lanes and clock."""

    def __init__(
        self,
        setup: PipelineSetup,
        table: StateTable,
        outputs: Outputs,
        live: RuleLane,
        past: RuleLane,
        clock: ProcessingClock,
        partitions: Callable[[str], int | None] = lambda topic: None,
    ) -> None:
        self.setup = setup
        self.topics = setup.topics
        self.table = table
        self.outputs = outputs
        self.live = live
        self.past = past
        self.clock = clock
        self.partitions = partitions  # a topic's partition count as the consumer sees it (None: not known yet)
        # The district states (and archives of past years) as last stored by this worker (the table holds them in
        # parts, citywatch/indicators/district_parts.py): loading every part for every batch would cost more than
        # the batch. Forgotten when partitions are revoked (`forget_districts`).
        self.district_states: dict[str, tuple[DistrictState | None, DistrictIndex | None]] = {}
        # A district's rule state is written by both agents: the district stage, and the feed stage for feeds whose
        # sites are areas (the mode share). Each reads it, evaluates, waits for the broker and stores it; overlapping,
        # the later store dropped the other's update (seen in issue 20's cluster fault test). They take turns.
        self.district_rules = asyncio.Lock()

    # --- feed batches ---------------------------------------------------------------------------------------------
    async def feed_batch(self, events: Sequence[Event]) -> None:
        """Admit, process per site, publish, wait for the broker, then store (see the module doc)."""
        sent: Sent = []
        book = ReceiptBook()
        by_site: dict[tuple[str, str], tuple[list[FeedItem], list[FeedRecord]]] = {}
        try:
            for event in events:
                for feed, item, record in await self.check(sent, book, event):
                    if self.clock.follows_events:  # the demo's clock only: no work per record otherwise
                        for _, instant in record.observation_fields():
                            if isinstance(instant, datetime):
                                self.clock.observe(instant)
                    items, records = by_site.setdefault((feed, record.site_id), ([], []))
                    items.append(item)
                    records.append(record)
            for step in steps(by_site, self.setup.step_readings):
                shared = any(FEEDS[feed].site is Area for feed, _, _, _ in step)
                async with self.district_rules if shared else nullcontext():
                    stores: list[Store] = []
                    for feed, site, items, records in step:
                        stores += await self.process_site(sent, book, feed, site, items, records)
                    # The step's verdicts go with its outputs: once its states are stored, a retry of the batch
                    # (streams/batch_retry.py) finds its readings duplicates; the gateway keeps a reading's first verdict.
                    await self.send_receipts(sent, book)
                    await acknowledged(sent)  # the broker has every output of the step: its states may be stored
                    sent.clear()
                    for store in stores:
                        store()
            await self.send_receipts(sent, book)  # the refusals of a batch with nothing admitted
            await acknowledged(sent)
        except Exception:
            await settled(sent)  # a send that raised leaves those queued before it in flight
            raise
        now = datetime.now(UTC).timestamp()
        zone = self.setup.zone
        for (feed, _), (items, records) in by_site.items():
            latency, lag = metrics.latency(feed), metrics.event_time_lag(feed)
            for item, record in zip(items, records, strict=True):
                latency.observe(max(0.0, now - item.event.message.timestamp))
                lag.observe(max(0.0, now - record.event_time(zone).timestamp()))

    async def check(self, sent: Sent, book: ReceiptBook, event: Event) -> list[tuple[str, FeedItem, FeedRecord]]:
        """The feed records of one message (one, or a feed batch's), each with its feed, after the same admission as
        the gateway's (schema, registry, bounded clocks) and a check of the partition the site's state lives on;
        those refused are dead-lettered with the reason."""
        feed = self.setup.feed_topics[event.message.topic]
        try:
            payloads = payloads_of(event.value)
        except BatchError as exc:
            whole = FeedItem(event, FeedPayload(None, event.value))
            await self.reject(sent, book, feed, whole, [FieldError(field="(batch)", reason=exc.reason)], "invalid")
            return []
        out = []
        for payload in payloads:
            item = FeedItem(event, payload)
            record = await self.admit(sent, book, feed, item)
            if record is not None:
                out.append((feed, item, record))
        return out

    async def admit(self, sent: Sent, book: ReceiptBook, feed: str, item: FeedItem) -> FeedRecord | None:
        """One record parsed and admitted, or None after dead-lettering it with the reason."""
        event, message = item.event, item.event.message
        try:
            record = parse_record(feed, item.payload.raw)
        except ValidationError as exc:
            await self.reject(sent, book, feed, item, field_errors(exc), "invalid")
            return None
        except Exception as exc:  # bytes no parser foresaw: kept with the reason, the partition moves on
            reason = f"could not be read ({type(exc).__name__}: {exc})"
            await self.reject(sent, book, feed, item, [FieldError(field="(record)", reason=reason)], "invalid")
            return None
        site = record.site_id
        if event.key is not None and event.key != site.encode():
            # Tables are partitioned by the message key; a mismatched key would split a site's state.
            errors = [FieldError(field="key", reason="message key must equal the site id")]
            await self.reject(sent, book, feed, item, errors, "invalid", record)
            return None
        expected = partition_of(site, self.partitions(message.topic) or self.setup.default_partitions)
        if message.partition != expected:
            errors = [wrong_partition(site, message, expected)]
            await self.reject(sent, book, feed, item, errors, "wrong-partition", record)
            return None
        department = self.topics.department_of(message.topic)
        refusal = admission(self.setup.registry, department, feed, record, self.setup.bounds, datetime.now(UTC))
        if refusal is not None:
            outcome: WorkerOutcome = "forbidden" if refusal.forbidden else "invalid"
            await self.reject(sent, book, feed, item, list(refusal.errors), outcome, record)
            return None
        if is_history(event) and self.setup.processors[feed].lanes is None:
            reason = f"history backfill is available for the {', '.join(sorted(backfill_feeds()))} feed, not {feed}"
            errors = [FieldError(field=f"(header {LANE_HEADER})", reason=reason)]
            await self.reject(sent, book, feed, item, errors, "invalid", record)
            return None
        return record

    async def process_site(
        self, sent: Sent, book: ReceiptBook, feed: str, site: str, items: list[FeedItem], records: list[FeedRecord]
    ) -> list[Store]:
        """Compute and publish; return the stores of the site's new states, to run once the batch is acknowledged.
        A record whose processing raises is dead-lettered and the others count (`guarded`). A feed with lanes folds
        the site's live and history states together (`citywatch.indicators.lanes`)."""
        processor = self.setup.processors[feed]
        if processor.lanes is not None:
            return await self.process_lanes(sent, book, feed, site, items, records, processor.lanes)
        last = items[-1].event
        result, failures = guarded(processor.process_batch, self.table.get(site, last), records)
        for index, exc in failures:
            log.error("%s record %s of %s could not be processed; dead-lettered", feed, index, site, exc_info=exc)
        await self.report_outcomes(sent, book, feed, items, records, result.outcomes)
        stores = await self.publish_with_rules(sent, last, result.records, result.contributions)
        if result.state is None:  # every record failed on a site without state: nothing to store
            return stores
        return [self.store_later(last, site, result.state), *stores]

    async def process_lanes(
        self,
        sent: Sent,
        book: ReceiptBook,
        feed: str,
        site: str,
        items: list[FeedItem],
        records: list[FeedRecord],
        lanes: LaneProcessor[Any, Any],
    ) -> list[Store]:
        """`process_site` for a feed whose history can be backfilled: the site's live and history lanes."""
        last = items[-1].event
        before = Lanes[Any](self.table.get(site, last), self.table.get(history_key(site), last))
        inputs = [(record, is_history(item.event)) for item, record in zip(items, records, strict=True)]
        result, failures = guarded(partial(run_lanes, lanes), before, inputs)
        for index, exc in failures:
            log.error("%s record %s of %s could not be processed; dead-lettered", feed, index, site, exc_info=exc)
        await self.report_outcomes(sent, book, feed, items, records, result.outcomes)
        stores = await self.publish_with_rules(sent, last, result.records, result.contributions)
        stores += await self.publish_with_rules(sent, last, result.history_records, rules=self.past)
        after = result.state or before
        if after.live is not None:
            stores.append(self.store_later(last, site, after.live))
        if after.history is not None:
            stores.append(self.store_later(last, history_key(site), after.history))
        elif before.history is not None:  # adopted by the live lane
            stores.append(self.delete_later(last, history_key(site)))
        return stores

    async def report_outcomes(
        self,
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
                errors = [FieldError(field=outcome.field or FEEDS[feed].time_field, reason=outcome.reason)]
                await self.reject(sent, book, feed, item, errors, outcome.kind, record)
            else:
                self.judged(book, feed, item, outcome.kind)

    async def reject(
        self,
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
        department = self.topics.department_of(event.message.topic)
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
        sent.append(await self.outputs.send(self.topics.dead_letter, feed.encode(), letter.model_dump_json().encode()))

    def judged(self, book: ReceiptBook, feed: str, item: FeedItem, outcome: WorkerOutcome) -> None:
        """A record that was not refused: counted, and noted for its receipt."""
        metrics.readings(feed, outcome).inc()
        event = item.event
        book.note(receipt_of(event.headers), self.topics.department_of(event.message.topic), feed, item.source, outcome)

    async def send_receipts(self, sent: Sent, book: ReceiptBook) -> None:
        """The verdicts noted since the last call."""
        for update in book.take():
            value = update.model_dump_json().encode()
            sent.append(await self.outputs.send(self.topics.receipts, update.receipt.encode(), value))

    # --- outputs ----------------------------------------------------------------------------------------------------
    async def send_evaluations(self, sent: Sent, evaluations: Sequence[RuleEvaluation]) -> None:
        for result in evaluations:
            metrics.evaluations(result.rule_id, result.outcome).inc()
            value = result.model_dump_json().encode()
            sent.append(await self.outputs.send(self.topics.rule_evaluations, result.fingerprint.encode(), value))

    async def publish(
        self,
        sent: Sent,
        records: Sequence[IndicatorRecord],
        contributions: Sequence[Contribution] = (),
        rules: RuleLane | None = None,
    ) -> None:
        """Queue the records as one indicator update per site, their rule evaluations and the contributions."""
        rules = rules or self.live
        received_at = self.clock.now()
        by_site: dict[str, list[IndicatorRecord]] = {}
        for record in records:
            by_site.setdefault(record.site, []).append(record)
        for site, changed in by_site.items():  # one update per site (citywatch/schemas/indicator.py)
            for update in encode_updates(site, changed):
                sent.append(await self.outputs.send(self.topics.indicators, site.encode(), update))
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
            await self.send_evaluations(sent, evaluations)
        for contribution in contributions:
            value = contribution.model_dump_json().encode()
            sent.append(await self.outputs.send(self.topics.contributions, contribution.district.encode(), value))

    async def publish_with_rules(
        self,
        sent: Sent,
        event: Event,
        records: Sequence[IndicatorRecord],
        contributions: Sequence[Contribution] = (),
        rules: RuleLane | None = None,
    ) -> list[Store]:
        """`publish`, with the rule state of the records' sites loaded from the table first; returns the stores of
        the states that changed, in the partition of `event` (the records' sites are the site or district whose
        events these are). `rules`: the live engine, or the history lanes' (historical evaluations)."""
        rules = rules or self.live
        sites = sorted({r.site for r in records})
        before = {site: self.table.get(rules.key(site), event) for site in sites}
        for site in sites:
            rules.engine.load_site(site, before[site])
        await self.publish(sent, records, contributions, rules)
        after = {site: rules.engine.export_site(site) for site in sites}
        return [self.store_later(event, rules.key(site), after[site]) for site in sites if after[site] != before[site]]

    def store_later(self, event: Event, key: str, value: Any) -> Store:
        """The table write of one key, in the partition of its own last event, to run once the batch's outputs are
        acknowledged."""
        return partial(self.table.set, key, value, event)

    def delete_later(self, event: Event, key: str) -> Store:
        return partial(self.table.delete, key, event)

    # --- the district stage ---------------------------------------------------------------------------------------
    async def contribution_batch(self, events: Sequence[Event]) -> None:
        """Second stage, keyed by district: indicators that need every site (city AQI, 优Ⅲ share, ...)."""
        async with self.district_rules:
            await self._contribution_batch(events)

    async def _contribution_batch(self, events: Sequence[Event]) -> None:
        sent: Sent = []
        try:
            by_district: dict[str, tuple[list[Event], list[Contribution]]] = {}
            for event in events:
                try:
                    contribution = Contribution.model_validate_json(event.value)
                except ValidationError as exc:
                    await self.reject_contribution(sent, event, field_errors(exc))
                    continue
                district_events, contributions = by_district.setdefault(contribution.district, ([], []))
                district_events.append(event)
                contributions.append(contribution)
            stores: list[Store] = []
            for district, (district_events, contributions) in by_district.items():
                before, _ = self.load_district(district, district_events[-1])
                scopes: dict[str, tuple[list[Event], list[Contribution]]] = {}
                for event, contribution, scope in zip(
                    district_events, contributions, scopes_of(district, before, contributions), strict=True
                ):
                    scope_events, scope_contributions = scopes.setdefault(scope, ([], []))
                    scope_events.append(event)
                    scope_contributions.append(contribution)
                live_events, live = scopes.pop(district, ([], []))
                if live:
                    folded, after = await self.fold_district(sent, district, live_events, live)
                    stores += folded
                    # Buckets the live state dropped (a new year began) move to their year's archive.
                    for moved in [] if after is None else rolled_out(before, after, district, live):
                        scope_events, scope_contributions = scopes.setdefault(
                            archive_scope(district, int(moved.bucket[:4])), ([], [])
                        )
                        scope_events.append(live_events[-1])
                        scope_contributions.append(moved)
                for scope, (scope_events, scope_contributions) in scopes.items():
                    stores += (await self.fold_district(sent, scope, scope_events, scope_contributions))[0]
            await acknowledged(sent)
        except Exception:
            await settled(sent)  # a send that raised leaves those queued before it in flight
            raise
        for store in stores:
            store()

    async def reject_contribution(self, sent: Sent, event: Event, errors: list[FieldError]) -> None:
        """A contribution the district stage cannot use (a bug upstream): kept, and the stage moves on."""
        letter = DeadLetter(
            feed="contributions",
            stage="district",
            errors=errors,
            payload=FeedPayload(None, event.value).text(),
            received_at=datetime.now(UTC),
            outcome="processing-error",
            source=where(event),
        )
        metrics.dead_letters("contributions", "processing-error").inc()
        sent.append(
            await self.outputs.send(self.topics.dead_letter, b"contributions", letter.model_dump_json().encode())
        )

    def load_district(self, scope: str, event: Event) -> tuple[DistrictState | None, DistrictIndex | None]:
        """A district's live state (or one year's archive, `archive_scope`) and its index: as last stored by this
        worker, else from the table."""
        if scope in self.district_states:
            return self.district_states[scope]
        return district_parts.load(scope, partial(self._get_at, event))

    def _get_at(self, event: Event, key: str) -> Any:
        return self.table.get(key, event)

    async def fold_district(
        self, sent: Sent, scope: str, events: list[Event], contributions: list[Contribution]
    ) -> tuple[list[Store], DistrictState | None]:
        """Fold contributions into one district state, publish what changed (records only history changed are
        judged historical), and return the stores and the new state."""
        last = events[-1]
        before, index = self.load_district(scope, last)
        result, failures = guarded(self.setup.process_district, before, contributions)
        for i, failure in failures:
            log.error("contribution %s of %s could not be processed; dead-lettered", i, scope, exc_info=failure)
            reason = result.outcomes[i].reason
            await self.reject_contribution(sent, events[i], [FieldError(field="(record)", reason=reason)])
        if result.state is None:
            return [], None
        live, past = split_historical(result.records, contributions)
        stores = await self.publish_with_rules(sent, last, live)
        stores += await self.publish_with_rules(sent, last, past, rules=self.past)
        changes, new_index = district_parts.changes(scope, before, index, result.state)
        stores += [self.store_later(last, key, value) for key, value in changes.writes.items()]
        stores += [self.delete_later(last, key) for key in changes.deletes]
        stores.append(partial(self.district_states.__setitem__, scope, (result.state, new_index)))
        return stores, result.state

    def forget_districts(self) -> None:
        """After a rebalance: district states are read from the table again."""
        self.district_states.clear()


SitePart = tuple[str, str, list[FeedItem], list[FeedRecord]]  # feed, site, its items and their records


def steps(
    by_site: Mapping[tuple[str, str], tuple[list[FeedItem], list[FeedRecord]]], size: int
) -> list[list[SitePart]]:
    """A batch's records in steps of at most `size` readings, each site's in their order: each step is folded,
    published and stored before the next, so a batch of many feed batches never holds the event loop (and the
    group heartbeat) for long, and a site's later step reads the state its earlier step stored."""
    out: list[list[SitePart]] = []
    current: list[SitePart] = []
    count = 0
    for (feed, site), (items, records) in by_site.items():
        for start in range(0, len(items), size):
            part = (feed, site, items[start : start + size], records[start : start + size])
            if current and count + len(part[2]) > size:
                out.append(current)
                current, count = [], 0
            current.append(part)
            count += len(part[2])
    if current:
        out.append(current)
    return out


def where(event: Event) -> str:
    """Where a dead letter's record was read, as an operator finds it: topic[partition]@offset."""
    return f"{event.message.topic}[{event.message.partition}]@{event.message.offset}"


def wrong_partition(site: str, message: Message, expected: int) -> FieldError:
    """Why a record on the wrong partition does not count: its site's state lives on another one."""
    reason = (
        f"the record for site {site!r} arrived on partition {message.partition} of {message.topic}, but the site's "
        f"state lives on partition {expected}: produce with the site id as the message key and Kafka's default "
        "partitioner (murmur2, as the Java client, kafka-python and aiokafka do); librdkafka clients (confluent-kafka, "
        "node-rdkafka, …) must set partitioner=murmur2_random (docs/kafka-security.md)"
    )
    return FieldError(field="(partition)", reason=reason)


def is_history(event: Event) -> bool:
    """Whether a feed record was sent as history (a backfill): the `citywatch-lane: history` header."""
    return bool((event.headers or {}).get(LANE_HEADER) == HISTORY_LANE.encode())


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
