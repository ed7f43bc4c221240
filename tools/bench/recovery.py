"""`citywatch bench recovery`: how long the workers stop while the cluster loses the node that leads the most of
their input partitions (the cluster profile only).

M readings of S stations are pre-loaded on the run's feed topic; W workers of one group start on them. Once they have
counted a quarter, the node leading the most feed partitions is SIGKILLed. Measured, polling every `poll_s`:
- **leader election**: kill → every feed partition led by a live node (the cluster's metadata, asked as the admin);
- **first output after the election**: election → the workers' summed `citywatch_worker_readings_total` rises again;
- **recovery**: kill → first output (the two above);
- the workers' rate before the kill against their rate from the first output on.
The node is started again `down_s` after the kill (30 s); the run ends when the workers have counted all M.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from citywatch.settings import env_name
from tools.bench.harness import BenchRun, Deadline, PartOptions, counted_progress, scrape, stack_servers
from tools.bench.readings import registry_with_stations
from tools.bench.results import READINGS_METRIC, counter_total, rate
from tools.bench.stats import Figure, PartResult
from tools.devstack.cluster import KafkaCluster


@dataclass
class RecoveryOptions(PartOptions):
    readings: int = 60_000
    stations: int = 600
    partitions: int = 6
    workers: int = 3
    down_s: float = 30.0
    poll_s: float = 0.2
    profile: str = "cluster"
    timeout_s: float = field(default=1800.0, kw_only=True)


def run_recovery_bench(options: RecoveryOptions, console: Console) -> PartResult:
    o = options
    result = o.part_result(
        "recovery",
        {"readings": o.readings, "stations": o.stations, "partitions": o.partitions, "workers": o.workers},
    )
    deadline = Deadline("recovery", o.timeout_s)
    with stack_servers(o.profile, console, ("kafka",)) as config, BenchRun(config, console, "recovery", o.keep) as run:
        if run.cluster is None:
            raise ValueError("the recovery benchmark needs the cluster profile (--profile cluster)")
        cluster = run.cluster
        registry, stations = registry_with_stations(o.registry_file, o.stations, run.tmp / "registry.yaml")
        run.create_topics(registry, o.partitions)
        base_env = run.env(registry, o.partitions)
        console.print(
            f"[bold]recovery benchmark[/]: {o.workers} workers on {o.readings:,} readings, {o.partitions} partitions; "
            f"the node leading the most of them is killed at a quarter and back after {o.down_s:.0f} s"
        )
        with counted_progress(console) as bar:
            load = bar.add_task("pre-load", total=o.readings)
            run.preload_readings(o.readings, stations, lambda n: bar.update(load, completed=n))
            envs = [{**base_env, env_name("worker_data_dir"): str(run.tmp / f"worker-{i}")} for i in range(o.workers)]
            procs = run.start_together(
                "worker", env_name("worker_web_port"), envs, [f"{run.prefix}-worker-{i}" for i in range(o.workers)]
            )
            urls = [f"http://127.0.0.1:{p.metrics_port}/metrics" for p in procs]
            task = bar.add_task("counted", total=o.readings)
            timeline = measure(run, cluster, urls, o, deadline, lambda n: bar.update(task, completed=n))
    result.figures = [
        Figure("leader election after the kill", timeline["election_s"], "s", higher_is_better=False),
        Figure(
            "first output after the election", timeline["first_output_after_election_s"], "s", higher_is_better=False
        ),
        Figure("recovery (kill to first output)", timeline["recovery_s"], "s", higher_is_better=False),
        Figure(
            "readings/s after the recovery",
            timeline["rate_after_per_s"],
            "/s",
            "before the kill",
            timeline["rate_before_per_s"],
        ),
    ]
    result.details = timeline
    if not timeline["complete"]:
        result.complete = False
        result.problem = f"the workers counted {timeline['counted']:,.0f} of {o.readings:,} before the deadline"
    return result


def measure(
    run: BenchRun, cluster: KafkaCluster, urls: list[str], o: RecoveryOptions, deadline: Deadline, progress: Any
) -> dict[str, Any]:
    def counted() -> float:
        return sum(counter_total(scrape(u), READINGS_METRIC, feed="air") for u in urls)

    first: tuple[float, float] | None = None
    while (done := counted()) < o.readings / 4:
        if first is None and done > 0:
            first = (time.monotonic(), done)
        progress(done)
        deadline.check("a quarter of the readings counted")
        time.sleep(o.poll_s)
    before = rate(done - first[1], time.monotonic() - first[0]) if first else None
    leaders = cluster.leaders([run.feed_topic])
    victim = Counter(leaders.values()).most_common(1)[0][0]
    led = sorted(p for (_, p), leader in leaders.items() if leader == victim)
    killed_at = time.monotonic()
    cluster.kill(victim)
    at_kill = counted()
    elected_at = output_at = revived_at = None
    output_count = 0.0
    while (done := counted()) < o.readings:
        now = time.monotonic()
        if elected_at is None and cluster.live_leaders(leaders.keys(), victim) is not None:
            elected_at, at_election = now, done
        if elected_at is not None and output_at is None and done > at_election:
            output_at, output_count = now, done
        if revived_at is None and now - killed_at >= o.down_s:
            cluster.revive(victim)
            revived_at = now
        progress(done)
        if deadline.expired():
            break
        time.sleep(o.poll_s)
    if revived_at is None:
        cluster.revive(victim)
    ended_at = time.monotonic()
    cluster.wait_healthy()
    return {
        "killed_node": victim,
        "partitions_it_led": led,
        "counted_at_kill": at_kill,
        "election_s": None if elected_at is None else elected_at - killed_at,
        "first_output_after_election_s": None if output_at is None or elected_at is None else output_at - elected_at,
        "recovery_s": None if output_at is None else output_at - killed_at,
        "rate_before_per_s": before,
        "rate_after_per_s": None if output_at is None else rate(done - output_count, ended_at - output_at),
        "down_s": o.down_s,
        "counted": done,
        "complete": done >= o.readings,
        "method": "readings counters of the workers and the feed topic's leaders, polled every "
        f"{o.poll_s:.1f} s (figures are good to about that)",
    }
