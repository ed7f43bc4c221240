"""`citywatch bench memory`: the worker's resident memory with many sites, and bytes per site.

For each site count N (default 1,000, 10,000, 100,000): a registry with N air stations (a synthetic copy of the
sample registry, CITYWATCH_REGISTRY_FILE), the run's topics, one `citywatch worker` (fresh data dir). Its RSS is
read once it is up and idle (the baseline, same process, same registry loaded), then one reading per site is
pre-loaded on its feed topic and, once the worker counted N readings and its rule evaluations stopped moving,
VmRSS is read again from /proc/<pid>/status (and process_resident_memory_bytes from its /metrics). Bytes per
site is the slope of the least-squares line of RSS after against N; r² says how straight the line is.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from citywatch.settings import env_name
from tools.bench.harness import BenchRun, Deadline, PartOptions, counted_progress, read_rss, scrape, stack_servers
from tools.bench.readings import registry_with_stations
from tools.bench.results import counter_by_label, counter_total
from tools.bench.stats import Figure, PartResult, linear_fit

LINEAR_R2_TARGET = 0.98
"""Issue 8: memory linear in sites — the fit's r² at least this."""
READINGS_METRIC = "citywatch_worker_readings_total"
EVALUATIONS_METRIC = "citywatch_worker_rule_evaluations_total"
POLLED_METRICS = (READINGS_METRIC, EVALUATIONS_METRIC, "process_resident_memory_bytes")


@dataclass
class MemoryOptions(PartOptions):
    sites: tuple[int, ...] = (1000, 10_000, 100_000)
    partitions: int = 4
    worker_store: str | None = None
    settle_s: float = 3.0
    profile: str = "test"
    timeout_s: float = field(default=3600.0, kw_only=True)


def wait_counted(url: str, expected: int, deadline: Deadline, on_count: Any, poll_s: float = 0.5) -> float:
    """Poll /metrics until the readings counter reaches `expected`, then until rule evaluations stop moving."""
    while True:
        count = counter_total(scrape(url), READINGS_METRIC, feed="air")
        on_count(count)
        if count >= expected:
            break
        deadline.check(f"the worker to count {expected:,} readings (it counted {count:,.0f})")
        time.sleep(poll_s)
    previous, still = -1.0, 0
    while still < 3 and not deadline.expired():
        value = counter_total(scrape(url), EVALUATIONS_METRIC)
        still = still + 1 if value == previous else 0
        previous = value
        time.sleep(poll_s)
    return count


def first_error(logs: Path) -> str:
    """The first ERROR or CRITICAL line of the run's logs: a crash's cause, before the shutdown's own errors."""
    for log in sorted(logs.glob("*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "[ERROR]" in line or "[CRITICAL]" in line:
                return f"{log.name}: {line.strip()[:400]}"
    return "none found"


def measure_sites(
    o: MemoryOptions, console: Console, config: Any, n: int, deadline: Deadline, bar: Progress
) -> dict[str, Any]:
    with BenchRun(config, console, "memory", o.keep) as run:
        task = bar.add_task(f"{n:,} sites: registry", total=n)
        registry, stations = registry_with_stations(o.registry_file, n, run.tmp / "registry.yaml")
        run.create_topics(registry, o.partitions)
        env = {**run.env(registry, o.partitions), env_name("worker_data_dir"): str(run.tmp / "worker")}
        if o.worker_store:
            env[env_name("worker_store")] = o.worker_store
        bar.update(task, description=f"{n:,} sites: worker start")
        # A 100k-station registry YAML takes the worker ~1–2 min to load.
        worker = run.start("worker", env_name("worker_web_port"), env, wait_s=max(120.0, n / 250))
        pid = worker.process.pid()
        assert pid is not None
        # Only the counters polled: the full page at 100,000 sites is tens of MB of indicator series.
        metrics = f"http://127.0.0.1:{worker.metrics_port}/metrics"
        url = f"{metrics}?" + "&".join(f"name[]={name}" for name in POLLED_METRICS)
        time.sleep(o.settle_s)
        idle_rss, _ = read_rss(pid)
        bar.update(task, description=f"{n:,} sites: pre-load")
        run.preload_readings(n, stations[:n], lambda _: None)
        bar.update(task, description=f"{n:,} sites: worker")
        try:
            counted = wait_counted(url, n, deadline, lambda c: bar.update(task, completed=c))
        except OSError as exc:
            raise RuntimeError(
                f"the worker stopped answering {url} at {n:,} sites ({exc}); first error in its log: "
                f"{first_error(run.tmp / 'logs')}"
            ) from exc
        time.sleep(o.settle_s)
        rss, hwm = read_rss(pid)
        text = scrape(url)
        exported = counter_total(text, "process_resident_memory_bytes")
        outcomes = counter_by_label(text, READINGS_METRIC, "outcome", feed="air")
        return {
            "sites": n,
            "readings_counted": counted,
            "outcomes": outcomes,
            "idle_rss_bytes": idle_rss,
            "rss_bytes": rss,
            "peak_rss_bytes": hwm,
            "process_resident_memory_bytes": exported,
            "delta_bytes": None if rss is None or idle_rss is None else rss - idle_rss,
        }


def run_memory_bench(options: MemoryOptions, console: Console) -> PartResult:
    o = options
    result = o.part_result(
        "memory",
        {"sites": list(o.sites), "partitions": o.partitions, "worker_store": o.worker_store or "worker default"},
    )
    deadline = Deadline("memory", o.timeout_s)
    points: list[dict[str, Any]] = []
    with stack_servers(o.profile, console, ("kafka",)) as config:
        console.print(f"[bold]memory benchmark[/]: worker RSS at {', '.join(f'{n:,}' for n in o.sites)} sites")
        with counted_progress(console) as bar:
            for n in o.sites:
                points.append(measure_sites(o, console, config, n, deadline, bar))
    for p in points:
        result.figures.append(
            Figure(
                f"worker RSS, {p['sites']:,} sites", p["rss_bytes"], "bytes", "same worker idle", p["idle_rss_bytes"]
            )
        )
    usable = [p for p in points if p["rss_bytes"] is not None]
    if len({p["sites"] for p in usable}) >= 2:
        fit = linear_fit([p["sites"] for p in usable], [p["rss_bytes"] for p in usable])
        delta_fit = linear_fit([p["sites"] for p in usable], [p["delta_bytes"] or 0 for p in usable])
        result.figures += [
            Figure(
                "bytes per site (slope of RSS)",
                fit.slope,
                "B/site",
                note=f"intercept {fit.intercept / 1024**2:.1f} MiB",
            ),
            Figure("linear fit r²", fit.r2, "r2", target=LINEAR_R2_TARGET, target_on="value"),
        ]
        result.details["fit"] = {"slope_bytes_per_site": fit.slope, "intercept_bytes": fit.intercept, "r2": fit.r2}
        result.details["delta_fit"] = {
            "slope_bytes_per_site": delta_fit.slope,
            "intercept_bytes": delta_fit.intercept,
            "r2": delta_fit.r2,
        }
    result.details["points"] = points
    result.details["method"] = (
        "VmRSS of /proc/<pid>/status once idle (baseline) and after one reading per site was counted and rule evaluations settled"
    )
    result.machine["load_after"] = list(os.getloadavg())
    return result
