"""`citywatch bench ingest`: readings/s the HTTP gateway accepts (batched POSTs from concurrent httpx clients)
beside a bare kafka-python producer on the same topic and broker, with the gateway's request latency percentiles.

1. A registry with S air stations; `citywatch ingest` of the run (own prefix, Redis keys, rate limit lifted so
   the limiter does not cap the figure) and a publisher API key.
2. Gateway: N distinct readings in POSTs of B readings to /v1/feeds/air/readings/batch, C clients at once (one
   httpx.AsyncClient, C tasks taking the next body), bodies serialised before the clock starts. Timed from the
   first request sent to the last 202; latency per request on the client.
3. Baseline: the same N readings (the same JSON bytes) sent with kafka-python's KafkaProducer, acks=all like the
   gateway, then flush(); timed from the first send to the flush's return.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass

import httpx
import orjson
from kafka import KafkaProducer
from rich.console import Console
from rich.progress import Progress

from citywatch.settings import env_name
from tools.bench.harness import BenchRun, BenchTimeout, Deadline, PartOptions, counted_progress, stack_servers
from tools.bench.readings import FIRST_HOUR, calm_reading, registry_with_stations
from tools.bench.results import rate
from tools.bench.stats import Figure, PartResult, percentiles

INGEST_TARGET = 0.5
"""Issue 8: the gateway accepts ≥ 0.5 × the bare producer's rate."""


@dataclass
class IngestOptions(PartOptions):
    readings: int = 200_000
    batch: int = 500
    clients: int = 8
    stations: int = 1000
    partitions: int = 4
    profile: str = "test"


def batches(stations: list[str], readings: int, batch: int, seed: int = 8) -> list[list[dict[str, object]]]:
    """`readings` distinct calm readings (round-robin over the stations, one hour apart per station), in batches."""
    from datetime import timedelta

    rng = random.Random(seed)
    out: list[list[dict[str, object]]] = []
    current: list[dict[str, object]] = []
    for i in range(readings):
        hour, slot = divmod(i, len(stations))
        current.append(calm_reading(stations[slot], FIRST_HOUR + timedelta(hours=hour), rng))
        if len(current) == batch:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


async def post_all(
    url: str, key: str, bodies: list[bytes], clients: int, deadline: Deadline, progress: Progress, task: int
) -> tuple[float, list[float], int, list[str]]:
    """POST every body with `clients` concurrent requests; (seconds, latencies s, accepted readings, errors)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors: list[str] = []
    accepted = 0
    queue = list(reversed(bodies))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60.0) as client:

        async def one_client() -> None:
            nonlocal accepted
            while queue and not deadline.expired():
                body = queue.pop()
                sent = time.perf_counter()
                response = await client.post(url, content=body)
                latencies.append(time.perf_counter() - sent)
                if response.status_code == 202:
                    accepted += int(response.json()["accepted"])
                    progress.update(task, completed=accepted)  # type: ignore[arg-type]
                elif len(errors) < 5:
                    errors.append(f"{response.status_code}: {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return seconds, latencies, accepted, errors


def bare_produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], progress: Progress, task: int
) -> float:
    """kafka-python, acks=all (as the gateway): send every record, flush; seconds from first send to flush's end."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    try:
        producer.partitions_for(topic)  # metadata before the clock starts
        started = time.perf_counter()
        for i, (key, value) in enumerate(records, 1):
            producer.send(topic, key=key, value=value)
            if i % 5000 == 0:
                progress.update(task, completed=i)  # type: ignore[arg-type]
        producer.flush()
        seconds = time.perf_counter() - started
        progress.update(task, completed=len(records))  # type: ignore[arg-type]
    finally:
        producer.close()
    return seconds


def run_ingest_bench(options: IngestOptions, console: Console) -> PartResult:
    o = options
    result = o.part_result(
        "ingest",
        {
            "readings": o.readings,
            "batch": o.batch,
            "clients": o.clients,
            "stations": o.stations,
            "partitions": o.partitions,
        },
    )
    deadline = Deadline("ingest", o.timeout_s)
    with (
        stack_servers(o.profile, console, ("kafka", "redis")) as config,
        BenchRun(config, console, "ingest", o.keep) as run,
    ):
        registry, stations = registry_with_stations(o.registry_file, o.stations, run.tmp / "registry.yaml")
        run.create_topics(registry, o.partitions)
        env = {
            **run.env(registry, o.partitions),
            env_name("rate_limit_records"): str(10 * o.readings + 10_000),
            env_name("max_batch_records"): str(max(1000, o.batch)),
            env_name("max_body_bytes"): str(max(2_000_000, o.batch * 1000)),
        }
        gateway = run.start("ingest", env_name("ingest_port"), env, health_path="/healthz")
        key = run.api_key()
        url = f"http://127.0.0.1:{gateway.metrics_port}/v1/feeds/air/readings/batch"
        console.print(
            f"[bold]ingest benchmark[/]: {o.readings:,} readings in POSTs of {o.batch} from {o.clients} clients, "
            f"{len(stations)} stations, {run.feed_topic} ({o.partitions} partitions) at {config.kafka_bootstrap}"
        )
        # Warm-up (connections, the gateway's producer, Redis): readings of the hour before, not counted.
        warm = batches(stations, min(len(stations), o.batch), o.batch, seed=1)
        for b in warm:
            for r in b:
                r["observed_at"] = "2020-12-31T23:00:00+08:00"
        all_batches = batches(stations, o.readings, o.batch)
        bodies = [orjson.dumps(b) for b in all_batches]
        records = [(str(r["station"]).encode(), orjson.dumps(r)) for b in all_batches for r in b]
        with counted_progress(console, 34) as bar:
            asyncio.run(
                post_all(
                    url, key, [orjson.dumps(b) for b in warm], 1, deadline, bar, bar.add_task("warm-up", total=None)
                )
            )
            task = bar.add_task(f"gateway ({o.clients} clients × {o.batch}/POST)", total=o.readings)
            seconds, latencies, accepted, errors = asyncio.run(
                post_all(url, key, bodies, o.clients, deadline, bar, task)
            )
            if deadline.expired():
                raise BenchTimeout(
                    f"ingest: gave up after {o.timeout_s:.0f} s; the gateway had accepted {accepted:,} of {o.readings:,}"
                )
            btask = bar.add_task("bare kafka-python producer (acks=all)", total=len(records))
            bare_seconds = bare_produce(config.kafka_bootstrap, run.feed_topic, records, bar, btask)
        gateway_rate = rate(accepted, seconds)
        bare_rate = rate(len(records), bare_seconds)
        lat = percentiles([x * 1000 for x in latencies])
        result.complete = accepted == o.readings
        if errors:
            result.problem = f"{o.readings - accepted:,} readings not accepted; first answers: {'; '.join(errors)}"
        result.figures = [
            Figure(
                "gateway accepted readings/s",
                gateway_rate,
                "/s",
                "bare kafka-python producer",
                bare_rate,
                target=INGEST_TARGET,
            ),
            *(
                Figure(
                    f"POST latency {p}", v, "ms", note=f"{o.batch} readings per POST, {o.clients} concurrent clients"
                )
                for p, v in lat.items()
            ),
        ]
        result.details = {
            "gateway": {"accepted": accepted, "seconds": seconds, "requests": len(latencies), "errors": errors},
            "bare": {"records": len(records), "seconds": bare_seconds, "acks": "all", "linger_ms": 2},
            "latency_ms": lat,
            "method": "client clock: first POST sent to last 202; bare: first send to flush() returned",
        }
        result.machine["load_after"] = list(os.getloadavg())
    return result
