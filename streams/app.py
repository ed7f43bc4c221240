"""The faust worker app: topics, the state table, agents and timers wired from settings.

The per-batch logic lives in `streams/pipeline.py` (`Pipeline`), apart from faust; here two agents feed it batches
of Kafka records (`streams/faust_workarounds/batches.py`):

- `feed_readings` reads every department's topic of every feed → `Pipeline.feed_batch` (admit, process per site,
  publish, then store);
- `district_stage` reads the per-site contributions → `Pipeline.contribution_batch` (the district indicators that
  need every site).

Timers judge staleness, reload rule files and watch the consumer's lag; the group leader publishes the fleet share.
Outputs are idempotent (keyed indicator buckets with revisions, alert fingerprints), so at-least-once delivery is
safe; faust's exactly-once mode is not used (see the faust notes in docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
from aiohttp.web import Response as HttpResponse
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from citywatch.clock import ProcessingClock
from citywatch.indicators.bus import fleet_clean_energy_share
from citywatch.rule_engine.engine import RuleEngine
from citywatch.rule_engine.evaluation import RuleEvaluation
from citywatch.rule_engine.loader import load_rules
from citywatch.rule_engine.model import Rule
from citywatch.schemas.receipt import REFUSALS
from citywatch.settings import WorkerSettings, env_name
from citywatch.site_registry import load_registry_compact
from citywatch.topics import STATE_TABLE, Topics
from services.kafka_client import faust_credentials
from streams import metrics
from streams.batch_retry import needs_new_producer, until_delivered
from streams.faust_workarounds.batches import batches
from streams.faust_workarounds.commits import WorkerApp
from streams.faust_workarounds.stall import StallWatch
from streams.faust_workarounds.tables import FaustTable
from streams.outputs import OutputProducer
from streams.pipeline import Pipeline, PipelineSetup, RuleLane, Sent, acknowledged
from streams.processors import district_processor, feed_processors
from streams.restart import exit_for_restart
from streams.rule_source import RuleSource, history_rules_key, partition_of, rules_key

log = logging.getLogger("citywatch.worker")


def create_app(settings: WorkerSettings) -> faust.App:
    topics = Topics(settings.topic_prefix)
    registry = load_registry_compact(Path(settings.registry_file))
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
        topic_replication_factor=settings.kafka_replication_factor,
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
    # Backfilled history is judged by the same rules in an engine of its own: its alerts are incidents of the past,
    # recorded and never sent to on-call, and its memory of a site's values never mixes with the live one's.
    history_engine = RuleEngine(rules, registry, started=clock.now(), historical=True)
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
    publishers = registry.feeds_by_department()

    # One table for every keyed state (site ids are unique across feeds; districts are prefixed), with RocksDB
    # memory sized by settings: faust's defaults reserve 2.5 GB of block cache per table partition.
    state = app.Table(
        STATE_TABLE, default=None, partitions=settings.topic_partitions, options=settings.rocksdb_options()
    )
    # One agent over every department's topic of every feed, dispatching by the topic's feed: a faust worker
    # with one agent per feed sometimes consumed nothing after a restart (see the note on issue 5).
    feed_topics = {topics.feed(feed, d): feed for d, feeds in sorted(publishers.items()) for feed in sorted(feeds)}
    for feed in sorted(set(feed_topics.values())):  # exported as 0 from the start, so an increase has a base
        for outcome in REFUSALS:
            metrics.dead_letters(feed, outcome)
    setup = PipelineSetup(
        topics=topics,
        registry=registry,
        feed_topics=feed_topics,
        processors=feed_processors(registry, settings),
        process_district=district_processor(settings),
        bounds=settings.clock_bounds(),
        zone=zone,
        default_partitions=settings.topic_partitions,
        step_readings=settings.worker_step_readings,
    )
    pipeline = Pipeline(
        setup,
        FaustTable(state),
        outputs,
        live=RuleLane(engine, rules_key, live=True),
        past=RuleLane(history_engine, history_rules_key, live=False),
        clock=clock,
        partitions=lambda name: app.consumer.topic_partitions(name),
    )

    def afresh(exc: BaseException) -> None:
        """Before a failed batch is tried again: what the failed attempt may not have sent is judged again. Only
        the staleness outcomes: site states are loaded from the table for every batch anyway, and forgetting more
        (which sites are loaded) would let a timer reload a site another agent is folding."""
        engine.forget_published()
        history_engine.forget_published()
        if needs_new_producer(exc):
            log.warning("the broker refuses the output producer's sequence numbers (%r): starting a new one", exc)
            outputs.renew()

    async def in_order(attempt: Callable[[], Awaitable[None]], stage: str, *, timer: bool = False) -> None:
        """One batch (or a timer's outputs), tried again while the broker cannot take its outputs; the worker ends
        rather than read past a batch that failed for good (streams/batch_retry.py), or crash in a timer (faust
        stops the whole app then). While the worker stops, a batch's failure is faust's to handle (the batch stays
        unacknowledged) and a timer's outputs are dropped (the next worker judges again)."""
        try:
            await until_delivered(attempt, stage=stage, budget_s=settings.worker_batch_retry_s, before_retry=afresh)
        except Exception as exc:
            if not app.should_stop:
                exit_for_restart("%s", exc, exc_info=exc)
            if not timer:
                raise
            log.warning("the worker is stopping: %s outputs not sent (%r)", stage, exc)

    async def send_judged(evaluations: list[RuleEvaluation], stage: str) -> None:
        """Evaluations the engine counts as sent once judged: sent again as a whole if the broker would not take
        them."""

        async def send() -> None:
            sent: Sent = []
            await pipeline.send_evaluations(sent, evaluations)
            await acknowledged(sent)

        if evaluations:
            await in_order(send, stage, timer=True)

    async def retire_rules(removed: list[Rule], narrowed: list[tuple[Rule, Rule]]) -> None:
        await send_judged(engine.retirements(removed, clock.now(), narrowed), "retirements")

    rule_source.retire = retire_rules

    @app.agent(topic(*feed_topics))
    async def feed_readings(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, settings.worker_batch_size, within=settings.worker_batch_within_s):
            await in_order(partial(pipeline.feed_batch, batch), "feed")

    @app.agent(contributions_topic)
    async def district_stage(stream: faust.StreamT[bytes]) -> None:
        """Second stage, keyed by district: indicators that need every site (city AQI, 优Ⅲ share, ...)."""
        async for batch in batches(stream, settings.worker_batch_size, within=settings.worker_batch_within_s):
            await in_order(partial(pipeline.contribution_batch, batch), "district")

    async def publish_fleet_share() -> None:
        """The registry's fleet, as of today: not a feed, so the group leader publishes it at start and hourly.
        Outside any event there is no partition to store rule state in; its rules need none (instant rules)."""
        today = datetime.now(zone).date()
        drives = [str(v.energy_type) for v in registry.fleet]
        record = fleet_clean_energy_share(drives, district=settings.district, on=today, zone=zone)
        if record is not None:

            async def publish() -> None:
                sent: Sent = []
                await pipeline.publish(sent, [record])
                await acknowledged(sent)

            await in_order(publish, "fleet", timer=True)

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

    def partitions_moving() -> bool:
        return bool(app.rebalancing or app.in_recovery)

    @app.timer(settings.worker_staleness_interval_s)  # type: ignore[untyped-decorator]
    async def staleness() -> None:
        if partitions_moving():
            return  # the table partitions may be half restored
        if not clock.ready:
            return  # following the events, and none yet: no time to judge silence by
        owns = owner(app.consumer.assignment())
        # A registry of many sites takes seconds to judge: other work (and /metrics) runs between the steps.
        # A rebalance may begin between steps: the sites judged were owned at the start, so the pass stops there.
        for judged, site in enumerate(engine.watched(), start=1):
            if owns(site) and not engine.is_loaded(site):
                engine.load_site(site, state.get(rules_key(site)))
            if judged % settings.worker_sites_per_step == 0:
                await asyncio.sleep(0)
                if partitions_moving():
                    return
        judged_stale: list[RuleEvaluation] = []
        for evaluations in engine.stale_in_steps(clock.now(), owns, settings.worker_sites_per_step):
            judged_stale += evaluations
            await asyncio.sleep(0)
            if partitions_moving():
                break
        await send_judged(judged_stale, "staleness")

    async def on_partitions_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
        """The sites this worker owns are about to change: load their rule state afresh from the table."""
        engine.forget(clock.now())
        history_engine.forget(clock.now())
        pipeline.forget_districts()

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
                    {
                        "detail": "send the worker's admin token: Authorization: Bearer "
                        f"<{env_name('worker_admin_token')}>"
                    },
                    status=401,
                )
            result = await rule_source.reload("POST /rules/reload")
            return self.json(result.as_json(), status=422 if result.outcome == "failed" else 200)

    del RulesReload  # registered by the decorator
