"""`citywatch bench scaling`: one worker against several workers of one consumer group on the same input.

M readings of S stations are pre-loaded once on the run's feed topic (P partitions). Then, from offset 0, for each
count in `--workers` (default 1,2): that many workers of a fresh app id (= consumer group), spawned together (own data
dirs and web ports) so they join the group at once. Each phase is timed like `citywatch bench worker`: the sum of the
workers' `citywatch_worker_readings_total` polled on /metrics, from the first poll that saw a reading to the poll that
reached M. Ratios: each count against one worker. `--profile cluster` runs it on the three secured Kafka nodes
(SASL_SSL, replication 3, min ISR 2: every write of the worker acknowledged by two nodes).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID

from citywatch.settings import env_name
from tools.bench.harness import BenchRun, Deadline, PartOptions, counted_progress, read_rss, scrape, stack_servers
from tools.bench.readings import registry_with_stations
from tools.bench.results import READINGS_METRIC, counter_total, rate
from tools.bench.stats import Figure, PartResult


@dataclass
class ScalingOptions(PartOptions):
    readings: int = 100_000
    stations: int = 1000
    partitions: int = 4
    worker_store: str | None = None
    poll_s: float = 0.5
    profile: str = "test"
    workers: tuple[int, ...] = (1, 2)
    timeout_s: float = field(default=1800.0, kw_only=True)


def phase(
    run: BenchRun,
    o: ScalingOptions,
    base_env: dict[str, str],
    workers: int,
    deadline: Deadline,
    bar: Progress,
    task: TaskID,
) -> dict[str, Any]:
    app_id = f"{run.prefix}-w{workers}"
    run.groups.append(app_id)
    run.grant_worker(Path(base_env[env_name("registry_file")]), o.partitions, app_id)
    envs = [
        {**base_env, env_name("worker_app_id"): app_id, env_name("worker_data_dir"): str(run.tmp / f"{app_id}-{i}")}
        for i in range(workers)
    ]
    procs = run.start_together("worker", env_name("worker_web_port"), envs, [f"{app_id}-{i}" for i in range(workers)])
    urls = [f"http://127.0.0.1:{p.metrics_port}/metrics" for p in procs]
    first: tuple[float, float] | None = None
    last = (0.0, 0.0)
    per_worker: list[float] = []
    try:
        while True:
            per_worker = [counter_total(scrape(u), READINGS_METRIC, feed="air") for u in urls]
            total, now = sum(per_worker), time.perf_counter()
            if total > 0 and first is None:
                first = (now, total)
            if total != last[1]:
                last = (now, total)
            bar.update(task, completed=total)
            if total >= o.readings:
                break
            if deadline.expired():
                break
            for p in procs:
                if not p.process.is_running():
                    raise RuntimeError(f"{p.name} exited during the benchmark; read {p.log_file}")
            time.sleep(o.poll_s)
        rss = [read_rss(p.process.pid() or 0)[0] for p in procs]
    finally:
        for p in procs:
            run.stop(p)
    seconds = last[0] - first[0] if first else 0.0
    counted = last[1] - first[1] if first else 0.0
    return {
        "workers": workers,
        "app_id": app_id,
        "readings_counted": last[1],
        "per_worker": per_worker,
        "seconds": seconds,
        "rate_per_s": rate(counted, seconds),
        "complete": last[1] >= o.readings,
        "rss_bytes": rss,
    }


def run_scaling_bench(options: ScalingOptions, console: Console) -> PartResult:
    o = options
    result = o.part_result(
        "scaling",
        {
            "readings": o.readings,
            "stations": o.stations,
            "partitions": o.partitions,
            "worker_store": o.worker_store or "worker default",
            "profile": o.profile,
            "workers": list(o.workers),
        },
    )
    deadline = Deadline("scaling", o.timeout_s)
    with stack_servers(o.profile, console, ("kafka",)) as config, BenchRun(config, console, "scaling", o.keep) as run:
        registry, stations = registry_with_stations(o.registry_file, o.stations, run.tmp / "registry.yaml")
        run.create_topics(registry, o.partitions)
        base_env = run.env(registry, o.partitions)
        if o.worker_store:
            base_env[env_name("worker_store")] = o.worker_store
        console.print(
            f"[bold]scaling benchmark[/]: {o.readings:,} readings of {len(stations)} stations, {o.partitions} partitions "
            f"on the {o.profile} profile; workers of one group: {', '.join(map(str, o.workers))}"
        )
        with counted_progress(console) as bar:
            load = bar.add_task("pre-load (aiokafka producer)", total=o.readings)
            run.preload_readings(o.readings, stations, lambda n: bar.update(load, completed=n))
            phases = []
            for workers in o.workers:
                task = bar.add_task(f"{workers} worker{'s' if workers > 1 else ''}", total=o.readings)
                phases.append(phase(run, o, base_env, workers, deadline, bar, task))
                if deadline.expired():
                    break
        one = phases[0]
        result.figures = [
            Figure(f"{p['workers']} workers readings/s", p["rate_per_s"], "/s", "one worker", one["rate_per_s"])
            for p in phases[1:]
        ]
        result.details = {"phases": phases, "method": "sum of the workers' readings counters polled on /metrics"}
        incomplete = [
            f"{p['workers']} worker(s) counted {p['readings_counted']:,.0f} of {o.readings:,}"
            for p in phases
            if not p["complete"]
        ]
        if deadline.expired() or incomplete:
            result.complete = False
            result.problem = f"gave up after {o.timeout_s:.0f} s: " + "; ".join(incomplete or ["timed out"])
        result.machine["load_after"] = list(os.getloadavg())
    return result
