"""`citywatch bench worker`: readings/s of the citywatch worker beside an empty faust agent and a bare aiokafka
loop, all three over the same pre-loaded topic on the real broker (issue 5 item 7, issue 8 item 1).

1. N hourly air readings of S registry stations are published to `<prefix>.feed.air.environment` (unique prefix
   per run, every topic of the prefix created like a deployment's).
2. Three consumers read the topic from offset 0, one after the other (never concurrently):
   bare aiokafka consume-and-decode (the limit), an empty faust agent (faust's ceiling, its own process and app id),
   and `python -m citywatch worker` (its own app id, data dir and web port), measured from its Prometheus counter
   `citywatch_worker_readings_total` polled on /metrics.
3. The figures, their ratios and the worker's peak RSS (VmHWM) are printed and written as JSON.

The test profile's Kafka is used unless `--bootstrap` names another; it is started if it is not running and then
stopped again, so the stack is left as found. The run's topics and consumer groups are deleted at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from citywatch.settings import env_name
from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from tools.bench.kafka import bare_consume, create_topics, delete_prefix, preload, wait_for_leaders
from tools.bench.readings import (
    BENCH_DEPARTMENT,
    air_station_ids,
    gateway_batches,
    readings,
    registry_with_stations,
)
from tools.bench.results import (
    READINGS_METRIC,
    WORKER_TARGET,
    ConsumerRate,
    WorkerBenchResult,
    counter_by_label,
    counter_total,
    fmt_bytes,
    fmt_rate,
    fmt_ratio,
    ratio,
    vm_hwm_bytes,
)
from tools.devstack.config import PROFILES, REPO_ROOT
from tools.devstack.servers import ManagedProcess, ServerStartError, http_ok
from tools.devstack.stack import Stack

CONSUMERS = ("bare", "empty_agent", "worker")
EVALUATIONS_METRIC = "citywatch_worker_rule_evaluations_total"
TIMELINE_STEP_S = 10.0


@dataclass
class WorkerBenchOptions:
    readings: int = 200_000
    stations: int | None = None  # None: every air station of the registry
    partitions: int = 4
    profile: str = "test"
    bootstrap: str | None = None  # None: the profile's Kafka, started if needed
    registry_file: Path = REPO_ROOT / "registry/wujiang-sample.yaml"
    out: Path | None = Path("bench-results/worker.json")
    consumers: tuple[str, ...] = CONSUMERS
    timeout_s: float = 1800.0
    poll_s: float = 0.5
    worker_store: str | None = None  # None: the worker's own default (WorkerSettings.worker_store)
    cprofile: Path | None = None  # run the worker under cProfile, stats written here
    shape: str = "single"  # "single": one reading per message; "batch": feed batches as the gateway sends them
    per_request: int = 500  # with shape "batch": readings per simulated gateway request (one batch per site each)
    keep: bool = False
    command: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def versions() -> dict[str, str]:
    """Library versions, and the commit the worker ran from (with any uncommitted worker code named)."""
    out = {"python": sys.version.split()[0], "git_commit": _git("rev-parse", "--short", "HEAD")}
    dirty = _git("status", "--porcelain", "--", "streams", "citywatch/indicators", "citywatch/standards")
    out["worker_code_uncommitted"] = " ".join(line[3:] for line in dirty.splitlines())
    for dist in ("faust-streaming", "aiokafka", "mode-streaming", "orjson", "pydantic", "rocksdict", "uvloop"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


@contextlib.contextmanager
def kafka_for(options: WorkerBenchOptions, console: Console) -> Iterator[str]:
    """The bootstrap to benchmark against; the profile's Kafka is started if down and stopped again after."""
    if options.bootstrap:
        yield options.bootstrap
        return
    config = PROFILES[options.profile]
    kafka = Stack(config).kafka
    started = False
    if not kafka.healthy():
        console.print(f"starting the {config.name} profile's Kafka (it will be stopped again at the end) …")
        kafka.start()
        started = True
    try:
        yield config.kafka_bootstrap
    finally:
        if started:
            console.print(f"stopping the {config.name} profile's Kafka (it was not running before)")
            kafka.stop()


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read()).decode()


def _stop(process: ManagedProcess, timeout: float = 30.0) -> None:
    process.stop(timeout=timeout)


def _wait_healthy(process: ManagedProcess, url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if http_ok(url):
            return
        if not process.is_running():
            raise ServerStartError(f"{process.name} exited during start-up; read {process.log_file}")
        time.sleep(0.2)
    raise ServerStartError(f"{process.name} did not answer {url} in {timeout_s:.0f} s; read {process.log_file}")


class WorkerBench:
    """One run: owns the prefix, the temporary directory and the processes it starts."""

    def __init__(self, options: WorkerBenchOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.prefix = f"bench{uuid.uuid4().hex[:10]}"
        self.worker_app_id = f"{self.prefix}-worker"
        self.agent_app_id = f"{self.prefix}-empty-agent"
        self.tmp = Path(tempfile.mkdtemp(prefix="citywatch-bench-"))
        self.topic = Topics(self.prefix).feed("air", BENCH_DEPARTMENT)
        self.messages = options.readings  # messages on the topic: fewer with feed batches (set by the pre-load)
        count = options.stations or len(air_station_ids(load_registry(options.registry_file)))
        self.registry_file, self.stations = registry_with_stations(
            options.registry_file, count, self.tmp / "registry.yaml"
        )

    # --- the run -------------------------------------------------------------------------------------------
    def run(self) -> WorkerBenchResult:
        o = self.options
        unknown = set(o.consumers) - set(CONSUMERS)
        if unknown:
            raise ValueError(f"unknown consumers {sorted(unknown)}; known: {', '.join(CONSUMERS)}")
        failed = True
        with kafka_for(o, self.console) as bootstrap:
            try:
                result = self._measure(bootstrap)
                failed = False
                return result
            finally:
                if not o.keep:
                    deleted = delete_prefix(bootstrap, self.prefix, [self.worker_app_id, self.agent_app_id])
                    self.console.print(f"deleted {len(deleted)} topics of prefix {self.prefix}")
                if failed or o.keep:
                    self.console.print(f"logs and data dirs kept in {self.tmp}")
                else:
                    shutil.rmtree(self.tmp, ignore_errors=True)

    def _measure(self, bootstrap: str) -> WorkerBenchResult:
        o = self.options
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        load_before = loadavg()
        self.console.print(
            f"[bold]worker benchmark[/]: {o.readings:,} readings of {len(self.stations)} stations on {self.topic} "
            f"({o.partitions} partitions) at {bootstrap}; load average {load_before[0]:.2f}"
        )
        create_topics(bootstrap, self.prefix, o.partitions, self.registry_file, self.worker_app_id)
        wait_for_leaders(bootstrap, [self.topic])
        consumers: list[ConsumerRate] = []
        peak_rss: int | None = None
        with Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=self.console,
        ) as bar:
            preloaded = self._preload(bootstrap, bar)
            if not preloaded.complete:
                raise RuntimeError(f"pre-load published {preloaded.records} of {o.readings} readings")
            for name in CONSUMERS:
                if name not in o.consumers:
                    continue
                task = bar.add_task(name, total=o.readings, rate="")
                if name == "bare":
                    consumer = self._bare(bootstrap, bar, task)
                elif name == "empty_agent":
                    consumer = self._empty_agent(bootstrap, bar, task)
                else:
                    consumer, peak_rss = self._worker(bootstrap, bar, task)
                bar.update(task, rate=fmt_rate(consumer.rate_per_s))
                consumers.append(consumer)
        return WorkerBenchResult(
            readings=o.readings,
            stations=len(self.stations),
            partitions=o.partitions,
            topic=self.topic,
            bootstrap=bootstrap,
            started_at=started_at,
            load_before=load_before,
            load_after=loadavg(),
            cpu_count=os.cpu_count() or 0,
            preload=preloaded,
            consumers=consumers,
            worker_peak_rss_bytes=peak_rss,
            worker_store=o.worker_store or _default_worker_store(),
            command=o.command,
            versions=versions(),
        )

    def _progress(self, bar: Progress, task: TaskID) -> Callable[[int], None]:
        return lambda done: bar.update(task, completed=done)

    def _preload(self, bootstrap: str, bar: Progress) -> ConsumerRate:
        o = self.options
        task = bar.add_task("pre-load (aiokafka producer)", total=o.readings, rate="")
        records = readings(o.readings, self.stations)
        if o.shape == "batch":
            batched = list(gateway_batches(records, o.per_request))
            assert sum(n for _, _, n in batched) == o.readings
            self.messages = len(batched)
            records = iter([(key, message) for key, message, _ in batched])
            bar.update(task, total=self.messages)
        result = asyncio.run(preload(bootstrap, self.topic, records, self.messages, self._progress(bar, task)))
        result = self._in_readings(result)
        bar.update(task, rate=fmt_rate(result.rate_per_s))
        return result

    def _in_readings(self, rate: ConsumerRate) -> ConsumerRate:
        """A rate counted in messages, as readings (a feed batch carries many): every consumer is compared per
        reading."""
        if self.messages == self.options.readings:
            return rate
        readings_done = round(rate.records * self.options.readings / self.messages)
        return replace(rate, records=readings_done, rate_per_s=None, extra={**rate.extra, "messages": rate.records})

    def _bare(self, bootstrap: str, bar: Progress, task: TaskID) -> ConsumerRate:
        o = self.options
        bar.update(task, total=self.messages)
        rate = asyncio.run(bare_consume(bootstrap, self.topic, self.messages, self._progress(bar, task), o.timeout_s))
        return self._in_readings(rate)

    def _empty_agent(self, bootstrap: str, bar: Progress, task: TaskID) -> ConsumerRate:
        o = self.options
        bar.update(task, total=self.messages)
        result_file = self.tmp / "empty-agent-result.json"
        progress_file = self.tmp / "empty-agent-progress.json"
        process = ManagedProcess(f"{self.prefix}-empty-agent", self.tmp)
        process.spawn(
            [
                sys.executable,
                "-m",
                "tools.bench.empty_agent",
                f"--bootstrap={bootstrap}",
                f"--topic={self.topic}",
                f"--app-id={self.agent_app_id}",
                f"--expected={self.messages}",
                f"--datadir={self.tmp / 'empty-agent'}",
                f"--result={result_file}",
                f"--progress={progress_file}",
                f"--partitions={o.partitions}",
            ],
            env=o.extra_env,
        )
        done = 0
        try:
            deadline = time.monotonic() + o.timeout_s
            while time.monotonic() < deadline:
                if result_file.exists():
                    figures = json.loads(result_file.read_text())
                    bar.update(task, completed=figures["records"])
                    return self._in_readings(
                        ConsumerRate(
                            "empty_agent",
                            "empty faust agent (async for value in stream)",
                            "in-process clock, first record to the N-th",
                            int(figures["records"]),
                            float(figures["seconds"]),
                            True,
                        )
                    )
                if not process.is_running():
                    raise RuntimeError(f"the empty agent exited early; read {process.log_file}")
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                    done = int(json.loads(progress_file.read_text())["records"])
                    bar.update(task, completed=done)
                time.sleep(0.25)
        finally:
            _stop(process)
        self.console.print(f"[yellow]the empty agent reached {done:,} of {o.readings:,} in {o.timeout_s:.0f} s[/]")
        return ConsumerRate(
            "empty_agent", "empty faust agent", "timed out: no rate", done, 0.0, False, extra={"timed_out": True}
        )

    def _worker(self, bootstrap: str, bar: Progress, task: TaskID) -> tuple[ConsumerRate, int | None]:
        o = self.options
        port = free_port()
        env = {
            env_name("kafka_bootstrap"): bootstrap,
            env_name("topic_prefix"): self.prefix,
            env_name("worker_app_id"): self.worker_app_id,
            env_name("worker_web_port"): str(port),
            env_name("worker_web_host"): "127.0.0.1",
            env_name("worker_data_dir"): str(self.tmp / "worker"),
            env_name("topic_partitions"): str(o.partitions),
            env_name("registry_file"): str(self.registry_file),
            **({env_name("worker_store"): o.worker_store} if o.worker_store else {}),
            **o.extra_env,
        }
        python = [sys.executable]
        if o.cprofile:
            o.cprofile.parent.mkdir(parents=True, exist_ok=True)
            python = [sys.executable, "-m", "cProfile", "-o", str(o.cprofile.resolve())]
        process = ManagedProcess(f"{self.prefix}-worker", self.tmp)
        pid = process.spawn([*python, "-m", "citywatch", "worker"], env=env, cwd=REPO_ROOT)
        url = f"http://127.0.0.1:{port}/metrics"
        peak: int | None = None
        try:
            _wait_healthy(process, url)
            measured = self._poll_worker(process, url, bar, task)
            with contextlib.suppress(FileNotFoundError):
                peak = vm_hwm_bytes(Path(f"/proc/{pid}/status").read_text())
        finally:
            _stop(process, timeout=60.0 if o.cprofile else 30.0)
        if o.cprofile:
            self.console.print(f"worker profile written to {o.cprofile} (read it with `python -m pstats`)")
        return measured, peak

    def _poll_worker(self, process: ManagedProcess, url: str, bar: Progress, task: TaskID) -> ConsumerRate:
        """Poll /metrics until the readings counter (all outcomes) reaches N; then until rule evaluation drains."""
        o = self.options
        first: tuple[float, float] | None = None  # (time, count) at the first poll that saw a reading
        last = (0.0, 0.0)
        timeline: list[tuple[float, float]] = []  # (seconds since the first poll that saw a reading, count)
        text = ""
        deadline = time.monotonic() + o.timeout_s
        while time.monotonic() < deadline:
            if not process.is_running():
                raise RuntimeError(f"the worker exited during the benchmark; read {process.log_file}")
            text = _scrape(url)
            now = time.perf_counter()
            total = counter_total(text, READINGS_METRIC, feed="air")
            if total > 0 and first is None:
                first = (now, total)
            if first is not None and (not timeline or now - first[0] - timeline[-1][0] >= TIMELINE_STEP_S):
                timeline.append((round(now - first[0], 2), total))
            if total != last[1]:
                last = (now, total)
            bar.update(task, completed=total)
            if total >= o.readings:
                break
            time.sleep(o.poll_s)
        complete = last[1] >= o.readings
        outcomes = counter_by_label(text, READINGS_METRIC, "outcome", feed="air")
        evaluations_at_n = counter_total(text, EVALUATIONS_METRIC)
        drained_s = self._drain_evaluations(url, evaluations_at_n) if complete else None
        if first is None:
            return ConsumerRate("worker", "citywatch worker", "no reading counted", 0, 0.0, False)
        t_first, c_first = first
        extra: dict[str, object] = {
            "readings_counted": last[1],
            "count_at_first_poll": c_first,
            "poll_interval_s": o.poll_s,
            "outcomes": outcomes,
            "timeline": [*timeline, (round(last[0] - t_first, 2), last[1])],
            "rule_evaluations_at_n": evaluations_at_n,
            "rule_evaluations_drained_after_s": drained_s,
            "full_path_rate_per_s": (
                ratio(last[1] - c_first, last[0] - t_first + drained_s) if drained_s is not None else None
            ),
        }
        return ConsumerRate(
            "worker",
            "citywatch worker (python -m citywatch worker)",
            f"{READINGS_METRIC} on /metrics polled every {o.poll_s:g} s: "
            "(count at N − count at first poll > 0) / (time at N − time of that poll)",
            int(last[1] - c_first),
            last[0] - t_first,
            complete,
            extra=extra,
        )

    def _drain_evaluations(self, url: str, at_n: float, limit_s: float = 60.0) -> float | None:
        """Seconds after the N-th reading until the rule-evaluation counter stops moving (two equal polls)."""
        started = time.perf_counter()
        previous = at_n
        changed_at = started
        while time.perf_counter() - started < limit_s:
            time.sleep(self.options.poll_s)
            value = counter_total(_scrape(url), EVALUATIONS_METRIC)
            if value != previous:
                previous, changed_at = value, time.perf_counter()
            elif time.perf_counter() - changed_at >= 2 * self.options.poll_s:
                return changed_at - started
        return None


def _default_worker_store() -> str:
    from citywatch.settings import WorkerSettings

    return str(WorkerSettings.model_fields["worker_store"].default)


def results_table(result: WorkerBenchResult) -> Table:
    table = Table(title=f"worker benchmark: {result.readings:,} readings, {result.stations} stations")
    table.add_column("consumer")
    table.add_column("records", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("readings/s", justify="right")
    table.add_column("vs empty agent", justify="right")
    table.add_column("vs bare", justify="right")
    agent, bare = result.rate_of("empty_agent"), result.rate_of("bare")
    for c in [result.preload, *result.consumers]:
        table.add_row(
            c.label + ("" if c.complete else " [red](incomplete)[/]"),
            f"{c.records:,}",
            f"{c.seconds:.2f}",
            fmt_rate(c.rate_per_s),
            "" if c.name == "preload" else fmt_ratio(ratio(c.rate_per_s, agent)),
            "" if c.name == "preload" else fmt_ratio(ratio(c.rate_per_s, bare)),
        )
    met = result.target_met
    verdict = "—" if met is None else ("[green]met[/]" if met else "[red]missed[/]")
    table.caption = (
        f"target: worker ≥ {WORKER_TARGET:g}× empty agent → {fmt_ratio(result.worker_vs_empty_agent)} {verdict}; "
        f"worker/bare {fmt_ratio(result.worker_vs_bare)}; worker peak RSS {fmt_bytes(result.worker_peak_rss_bytes)}; "
        f"load {result.load_before[0]:.2f} → {result.load_after[0]:.2f} on {result.cpu_count} CPUs"
    )
    return table


def write_result(result: WorkerBenchResult, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return out


def run_worker_bench(options: WorkerBenchOptions, console: Console | None = None) -> WorkerBenchResult:
    console = console or Console()
    result = WorkerBench(options, console).run()
    console.print(results_table(result))
    if options.out is not None:
        console.print(f"results written to {write_result(result, options.out)}")
    return result
