"""`citywatch bench latency`: ingest → alert latency under a steady load, beside the same breach firing through a
Prometheus alerting rule on the worker's exported gauge.

1. The run's gateway, worker and alert service on the test stack (own prefix, registry of S background stations
   and P probe stations); a Prometheus rule file of the run,
   `citywatch_air_pm25_ugm3{window="24h",bench="<prefix>"} > 75` (evaluated every second), loaded by /-/reload.
2. Background: calm readings (no rule breached) of the S stations at R readings/s, in POSTs of B readings sent on
   an open-loop schedule (batch k due at k × B / R s; a slow system makes batches late, it does not slow the
   schedule down), from C concurrent clients.
3. Probes: every `probe_interval_s`, one reading of a new probe station at 200 µg/m³ PM2.5 in its own POST; its 24 h
   mean is then 200, above the GB 3095 Grade II limit, so rule `air-pm25-24h-grade2` fires for that station.
   Latency = the firing record's Kafka timestamp on the alerts topic − the wall-clock time the 202 arrived.
   Baseline: the Prometheus alert's `activeAt` for that station (GET /api/v1/alerts) − the same 202 time.
4. Every second the worker's readings counter is read: backlog = readings accepted − readings processed. A rate
   the worker cannot sustain shows as a growing backlog (its slope, records/s) and growing probe latencies; the
   run still ends after `duration_s` plus at most `drain_s` of waiting for the probes' alerts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from citywatch.settings import env_name
from citywatch.standards.averages import validity_rules
from tools.bench.harness import BenchRun, BenchTimeout, Deadline, PartOptions, stack_servers
from tools.bench.readings import FIRST_HOUR, calm_reading, registry_with_stations
from tools.bench.results import READINGS_METRIC, counter_total, rate
from tools.bench.stats import Figure, Pacer, PartResult, backlog_growth, percentiles

LATENCY_TARGET_MS = 250.0
"""Issue 8: ingest → alert p99 ≤ 250 ms."""
RULE = "air-pm25-24h-grade2"
PROM_ALERT = "CitywatchBenchPm25Above75"
PROBE_PM25 = 200.0
SEED_PM25 = 70.0
"""A probe station's hours before its probe: under the 75 µg/m³ of both paths (GB 3095-2012 Grade II on the bench's
dates, and the Prometheus rule), so only the probe's hour can make either fire."""
PROM_THRESHOLD = 75
WARMUP_LIMIT_S = 180.0


@dataclass
class LatencyOptions(PartOptions):
    rate: float = 1000.0
    duration_s: float = 120.0
    batch: int = 100
    clients: int = 4
    stations: int = 1000
    probe_interval_s: float = 1.0
    drain_s: float = 60.0
    partitions: int = 4
    profile: str = "test"


def prometheus_rule(prefix: str) -> str:
    """The baseline: the same breach as a Prometheus alerting rule on the worker's exported 24 h mean."""
    return (
        "groups:\n"
        f"  - name: citywatch-bench-{prefix}\n"
        "    interval: 1s\n"
        "    rules:\n"
        f"      - alert: {PROM_ALERT}\n"
        f'        expr: citywatch_air_pm25_ugm3{{window="24h",bench="{prefix}"}} > {PROM_THRESHOLD}\n'
        "        labels:\n"
        f"          bench: {prefix}\n"
    )


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of Prometheus's RFC 3339 times (nanosecond fractions, 'Z')."""
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text).timestamp()


def latencies_ms(accepted_at: dict[str, float], fired_at: dict[str, float]) -> dict[str, float]:
    """Per probe station seen on both sides: (fired − accepted) in ms."""
    return {s: (fired_at[s] - t) * 1000 for s, t in accepted_at.items() if s in fired_at}


class LatencyBench:
    def __init__(self, options: LatencyOptions, run: BenchRun, background: list[str], probes: list[str]) -> None:
        self.o = options
        self.run = run
        self.background = background
        self.probes = probes
        self.rng = random.Random(11)
        self.accepted = 0
        self.posted_batches = 0
        self.late_s: list[float] = []
        self.errors: list[str] = []
        self.probe_accepted_at: dict[str, float] = {}
        self.probe_sent_at: dict[str, float] = {}
        self.fired_at: dict[str, float] = {}
        self.prom_active_at: dict[str, float] = {}
        self.timeline: list[tuple[float, int, float]] = []  # (s since load start, accepted, processed)
        self.next_reading = 0
        self.warmup_posted = 0  # readings accepted before the load: the probes' seeds, a background batch, a probe

    def background_batch(self) -> bytes:
        out = []
        for _ in range(self.o.batch):
            hour, slot = divmod(self.next_reading, len(self.background))
            self.next_reading += 1
            out.append(calm_reading(self.background[slot], FIRST_HOUR + timedelta(hours=hour), self.rng))
        return orjson.dumps(out)

    async def post(self, client: httpx.AsyncClient, url: str, body: bytes) -> int:
        response = await client.post(url, content=body)
        if response.status_code != 202:
            if len(self.errors) < 5:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")
            return 0
        return int(response.json()["accepted"])

    @staticmethod
    def probe_hours() -> int:
        """Hours of a probe station, the probe's the last: a 24 h mean is judged by no rule before it has the valid
        hours GB 3095 Table 4 asks for, so the probe completes them (and its mean then exceeds both thresholds)."""
        hours = validity_rules(FIRST_HOUR.date()).min_hours_daily
        mean = ((hours - 1) * SEED_PM25 + PROBE_PM25) / hours
        if not SEED_PM25 < PROM_THRESHOLD < mean:
            raise RuntimeError(f"probe stations: {hours} hours give a 24 h mean of {mean}, not above {PROM_THRESHOLD}")
        return hours

    async def seed_probes(self, client: httpx.AsyncClient, url: str) -> None:
        """Every probe station's hours before its probe, posted before the load (not timed, not counted)."""
        seeds = [
            calm_reading(station, FIRST_HOUR + timedelta(hours=h), self.rng, pm25=SEED_PM25)
            for station in self.probes
            for h in range(self.probe_hours() - 1)
        ]
        for i in range(0, len(seeds), 500):
            accepted = await self.post(client, url, orjson.dumps(seeds[i : i + 500]))
            if not accepted:
                raise RuntimeError(f"latency: the probe stations' first hours were refused: {self.errors}")
            self.warmup_posted += accepted

    async def probe(self, client: httpx.AsyncClient, url: str, station: str) -> None:
        at = FIRST_HOUR + timedelta(hours=self.probe_hours() - 1)
        body = orjson.dumps([calm_reading(station, at, self.rng, pm25=PROBE_PM25)])
        self.probe_sent_at[station] = time.time()
        if await self.post(client, url, body):
            self.probe_accepted_at[station] = time.time()

    async def consume_alerts(self, stop: asyncio.Event, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self.run.topics.alerts,
            bootstrap_servers=self.run.config.kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        ready.set()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                for messages in batches.values():
                    for m in messages:
                        record = json.loads(m.value)
                        if record.get("rule_id") == RULE and record.get("status") == "firing":
                            self.fired_at.setdefault(str(record.get("site")), m.timestamp / 1000)
        finally:
            await consumer.stop()

    async def poll_prometheus(self, client: httpx.AsyncClient) -> None:
        answer = (await client.get(f"{self.run.config.prometheus_url}/api/v1/alerts", timeout=10)).json()
        for alert in answer.get("data", {}).get("alerts", []):
            labels = alert.get("labels", {})
            if labels.get("alertname") == PROM_ALERT and labels.get("bench") == self.run.prefix:
                self.prom_active_at.setdefault(labels.get("site", ""), parse_rfc3339(alert["activeAt"]))

    async def processed(self, client: httpx.AsyncClient, metrics_url: str) -> float:
        text = (await client.get(metrics_url, timeout=10)).text
        return counter_total(text, READINGS_METRIC, feed="air")

    async def measure(self, ingest_url: str, metrics_url: str, key: str, deadline: Deadline, bar: Progress) -> None:
        o = self.o
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        limits = httpx.Limits(max_connections=o.clients + 2, max_keepalive_connections=o.clients + 2)
        stop_alerts, alerts_ready = asyncio.Event(), asyncio.Event()
        alerts_task = asyncio.create_task(self.consume_alerts(stop_alerts, alerts_ready))
        async with (
            httpx.AsyncClient(headers=headers, limits=limits, timeout=60.0) as client,
            httpx.AsyncClient(timeout=10.0) as plain,
        ):
            await alerts_ready.wait()
            # Warm-up: one round of background readings and a first probe, through to its alert (not counted).
            warm = bar.add_task("warm-up: first probe's alert", total=None)
            first_probe = self.probes[0]
            await self.seed_probes(client, ingest_url)
            self.warmup_posted += await self.post(client, ingest_url, self.background_batch())
            await self.probe(client, ingest_url, first_probe)
            self.warmup_posted += 1
            warm_until = time.monotonic() + WARMUP_LIMIT_S

            async def warmed_up() -> bool:
                # The probe's alert on both paths, and every warm-up reading processed: the load's processed count
                # must not include the seeds of probe stations on other partitions.
                if first_probe not in self.fired_at or first_probe not in self.prom_active_at:
                    return False
                return await self.processed(plain, metrics_url) >= self.warmup_posted

            while not await warmed_up():
                deadline.check("the warm-up probe's alert (on the alerts topic and in Prometheus)")
                if time.monotonic() > warm_until:
                    raise BenchTimeout(
                        f"latency: the warm-up probe raised no alert within {WARMUP_LIMIT_S:.0f} s (alerts topic: "
                        f"{first_probe in self.fired_at}, Prometheus: {first_probe in self.prom_active_at}); "
                        f"read the logs in {self.run.tmp}"
                    )
                await self.poll_prometheus(plain)
                await asyncio.sleep(0.5)
            bar.update(warm, total=1, completed=1)
            self.fired_at.clear()
            self.prom_active_at.clear()
            self.probe_accepted_at.clear()
            self.probe_sent_at.clear()
            accepted_before = self.next_reading

            pacer = Pacer(o.rate, o.batch, start=time.monotonic())
            total_batches = max(1, math.floor(o.duration_s * o.rate / o.batch))
            queue: asyncio.Queue[int | None] = asyncio.Queue()
            load = bar.add_task(f"load {o.rate:g}/s, probes", total=o.duration_s)
            loop_start = pacer.start

            async def schedule() -> None:
                for k in range(total_batches):
                    wait = pacer.due(k) - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await queue.put(k)
                for _ in range(o.clients):
                    await queue.put(None)

            async def sender() -> None:
                while (k := await queue.get()) is not None:
                    if deadline.expired():
                        continue
                    self.late_s.append(pacer.lag(k, time.monotonic()))
                    self.accepted += await self.post(client, ingest_url, self.background_batch())
                    self.posted_batches += 1

            async def probes() -> None:
                n = 1
                sent: list[asyncio.Task[None]] = []
                while time.monotonic() - loop_start < o.duration_s and n < len(self.probes):
                    sent.append(asyncio.create_task(self.probe(client, ingest_url, self.probes[n])))
                    n += 1
                    await asyncio.sleep(o.probe_interval_s)
                await asyncio.gather(*sent)

            async def monitor() -> None:
                base = await self.processed(plain, metrics_url)
                while True:
                    now = time.monotonic() - loop_start
                    done = await self.processed(plain, metrics_url) - base
                    self.timeline.append((round(now, 2), self.accepted, done))
                    await self.poll_prometheus(plain)
                    bar.update(load, completed=min(now, o.duration_s))
                    await asyncio.sleep(1.0)

            monitor_task = asyncio.create_task(monitor())
            await asyncio.gather(schedule(), probes(), *(sender() for _ in range(o.clients)))
            self.load_seconds = time.monotonic() - loop_start
            drain = bar.add_task("waiting for the probes' alerts", total=len(self.probe_accepted_at))
            drain_until = time.monotonic() + o.drain_s
            while time.monotonic() < drain_until and not deadline.expired():
                wanted = set(self.probe_accepted_at)
                seen = wanted & set(self.fired_at) & set(self.prom_active_at)
                bar.update(drain, completed=len(seen))
                if seen == wanted:
                    break
                await asyncio.sleep(0.5)
            self.drained_s = time.monotonic() - loop_start - self.load_seconds
            monitor_task.cancel()
            stop_alerts.set()
            await alerts_task
            self.warmup_readings = accepted_before


def run_latency_bench(options: LatencyOptions, console: Console) -> PartResult:
    o = options
    probes_needed = int(o.duration_s / o.probe_interval_s) + 2
    result = o.part_result(
        "latency",
        {
            "rate_per_s": o.rate,
            "duration_s": o.duration_s,
            "batch": o.batch,
            "clients": o.clients,
            "stations": o.stations,
            "probe_interval_s": o.probe_interval_s,
            "drain_s": o.drain_s,
            "partitions": o.partitions,
        },
    )
    deadline = Deadline("latency", o.timeout_s)
    servers = ("kafka", "redis", "alertmanager", "prometheus")
    with stack_servers(o.profile, console, servers) as config, BenchRun(config, console, "latency", o.keep) as run:
        registry, ids = registry_with_stations(o.registry_file, o.stations + probes_needed, run.tmp / "registry.yaml")
        background, probe_ids = ids[: o.stations], ids[o.stations :]
        run.create_topics(registry, o.partitions)
        env = {
            **run.env(registry, o.partitions),
            env_name("rate_limit_records"): str(int(o.rate * 120) + 100_000),
            env_name("worker_data_dir"): str(run.tmp / "worker"),
        }
        console.print(
            f"[bold]latency benchmark[/]: {o.rate:g} readings/s for {o.duration_s:g} s in POSTs of {o.batch} "
            f"({len(background)} stations), a probe breach every {o.probe_interval_s:g} s; prefix {run.prefix}"
        )
        worker = run.start("worker", env_name("worker_web_port"), env)
        run.start("alerts", env_name("alerts_port"), env, health_path="/healthz")
        gateway = run.start("ingest", env_name("ingest_port"), env, health_path="/healthz")
        run.add_prometheus_rules(prometheus_rule(run.prefix))
        key = run.api_key()
        bench = LatencyBench(o, run, background, probe_ids)
        with Progress(TextColumn("{task.description:<34}"), BarColumn(), TimeElapsedColumn(), console=console) as bar:
            asyncio.run(
                bench.measure(
                    f"http://127.0.0.1:{gateway.metrics_port}/v1/feeds/air/readings/batch",
                    f"http://127.0.0.1:{worker.metrics_port}/metrics",
                    key,
                    deadline,
                    bar,
                )
            )
        ours = latencies_ms(bench.probe_accepted_at, bench.fired_at)
        prom = latencies_ms(bench.probe_accepted_at, bench.prom_active_at)
        ours_p, prom_p = percentiles(list(ours.values())), percentiles(list(prom.values()))
        timeline = bench.timeline
        during = [(t, a, p) for t, a, p in timeline if t <= bench.load_seconds + 0.5]  # the load phase only
        backlog = [(t, a - p) for t, a, p in during]
        growth = backlog_growth(backlog)
        accepted_rate = rate(bench.accepted, bench.load_seconds)
        processed_rate = rate(during[-1][2], during[-1][0]) if during else None
        sustained = (
            growth is not None
            and growth <= 0.05 * o.rate
            and (accepted_rate or 0) >= 0.95 * o.rate
            and (processed_rate or 0) >= 0.95 * (accepted_rate or 0)
        )
        result.figures = [
            *(
                Figure(
                    f"ingest→alert {p}",
                    ours_p[p],
                    "ms",
                    "Prometheus rule on the gauge",
                    prom_p[p],
                    target=LATENCY_TARGET_MS if p == "p99" else None,
                    target_on="value",
                    higher_is_better=False,
                )
                for p in ("p50", "p95", "p99")
            ),
            Figure("readings/s accepted by the gateway", accepted_rate, "/s", "asked", o.rate, target=0.95),
            Figure("readings/s processed by the worker", processed_rate, "/s", "accepted", accepted_rate),
            Figure(
                "backlog growth during the load",
                growth,
                "/s",
                note="slope of (accepted − processed) over the load phase; ≈0 when the worker keeps up",
            ),
        ]
        missing = sorted(set(bench.probe_accepted_at) - set(bench.fired_at))
        result.complete = sustained and not missing
        problems = []
        if not sustained:
            problems.append(
                f"{o.rate:g}/s not sustained: the gateway accepted {accepted_rate or 0:,.0f}/s, the worker processed "
                f"{processed_rate or 0:,.0f}/s, backlog grew {growth or 0:,.0f}/s to {backlog[-1][1] if backlog else 0:,.0f} "
                "readings; latencies include that queue"
            )
        if missing:
            problems.append(
                f"{len(missing)} of {len(bench.probe_accepted_at)} probes raised no alert within {o.drain_s:g} s"
            )
        if bench.errors:
            problems.append(f"gateway refusals: {'; '.join(bench.errors)}")
        result.problem = "; ".join(problems)
        late = bench.late_s
        result.details = {
            "probes": {
                "sent": len(bench.probe_sent_at),
                "accepted": len(bench.probe_accepted_at),
                "alert_seen": len(ours),
                "prometheus_seen": len(prom),
                "latency_ms": ours,
                "prometheus_latency_ms": prom,
            },
            "latency_ms": ours_p,
            "prometheus_latency_ms": prom_p,
            "load": {
                "accepted": bench.accepted,
                "batches": bench.posted_batches,
                "seconds": bench.load_seconds,
                "batch_lateness_s": percentiles(late),
                "warmup_readings": bench.warmup_readings,
            },
            "timeline": [{"t": t, "accepted": a, "processed": p, "backlog": a - p} for t, a, p in timeline],
            "backlog_growth_per_s": growth,
            "backlog_at_load_end": backlog[-1][1] if backlog else None,
            "sustained": sustained,
            "drained_after_s": bench.drained_s,
            "method": "latency = alert record's Kafka timestamp − wall time the probe's 202 arrived (same host); "
            "Prometheus: /api/v1/alerts activeAt − the same 202 time (scrape and rule interval 1 s)",
        }
        result.machine["load_after"] = list(os.getloadavg())
        if deadline.expired():
            raise BenchTimeout(f"latency: gave up after {o.timeout_s:.0f} s; {result.problem}")
    return result
