"""What every part of the benchmark suite shares: the test stack, a run's own names and processes, deadlines.

A run owns a unique prefix: its topics, consumer groups, Redis keys, Prometheus target files (labelled
`bench="<prefix>"`) and rule file. Everything it started is stopped, and everything it created deleted, at the end;
servers of the stack that were down before are stopped again, so the stack is left as found.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citywatch.settings import env_name
from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from services.kafka_client import Connection
from services.kafka_grants import ADMIN_USER, WORKER_USER
from tools.bench.kafka import create_topics, delete_prefix, preload, wait_for_leaders
from tools.bench.readings import BENCH_DEPARTMENT, readings
from tools.bench.stats import PartResult, status_bytes
from tools.bench.worker import free_port, loadavg, versions
from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import PROFILES, REPO_ROOT, StackConfig
from tools.devstack.servers import Server, ServerStartError, http_ok
from tools.devstack.stack import CitywatchProcess, Stack


class BenchTimeout(RuntimeError):
    """A part waited longer than its limit; the message says for what and what was reached."""


@dataclass
class Deadline:
    """A part's time limit: `check` raises BenchTimeout naming what it was waiting for."""

    part: str
    seconds: float
    started: float = field(default_factory=time.monotonic)

    @property
    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def expired(self) -> bool:
        return self.left <= 0

    def check(self, waiting_for: str) -> None:
        if self.expired():
            raise BenchTimeout(f"{self.part}: gave up after {self.seconds:.0f} s waiting for {waiting_for}")


@contextlib.contextmanager
def stack_servers(profile: str, console: Console, names: tuple[str, ...]) -> Iterator[StackConfig]:
    """The profile's servers named (kafka, redis, prometheus, alertmanager); those down are started and stopped
    again at the end."""
    config = PROFILES[profile]
    stack = Stack(config)
    chosen: list[Server] = [s for s in stack.servers if s.name in names]
    started: list[Server] = []
    try:
        for server in chosen:
            if not (server.process.is_running() and server.healthy()):
                console.print(f"starting the {config.name} profile's {server.name} (stopped again at the end) …")
                server.start()
                started.append(server)
        yield config
    finally:
        for server in reversed(started):
            console.print(f"stopping the {config.name} profile's {server.name} (it was not running before)")
            server.stop()


def read_rss(pid: int) -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of a process in bytes, from /proc/<pid>/status."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None, None
    return status_bytes(status, "VmRSS"), status_bytes(status, "VmHWM")


def scrape(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read()).decode()


def counted_progress(console: Console, label_width: int = 28) -> Progress:
    """The progress display of a part's counted tasks: each task's label, its bar, done of total, time elapsed."""
    return Progress(
        TextColumn(f"{{task.description:<{label_width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count() or 0, "load_before": list(loadavg())}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(kw_only=True)
class PartOptions:
    """What every part of the suite (ingest, latency, memory, scaling) is told beside its own sizes and stack profile,
    by keyword: the registry its synthetic one copies, how long it may take, whether to keep what it created, and the
    command line that ran it."""

    registry_file: Path = REPO_ROOT / "registry/wujiang-sample.yaml"
    timeout_s: float = 900.0
    keep: bool = False
    command: str = ""

    def part_result(self, part: str, params: dict[str, Any]) -> PartResult:
        """The part's result, before its figures: started now, on this machine and these versions, by this command."""
        return PartResult(part, now_iso(), params, machine=machine(), versions=bench_versions(), command=self.command)


class BenchRun:
    """One part's run on the stack: its prefix, temporary directory, environment and processes."""

    def __init__(self, config: StackConfig, console: Console, part: str, keep: bool = False) -> None:
        self.config = config
        self.console = console
        self.part = part
        self.keep = keep
        self.prefix = f"bench{uuid.uuid4().hex[:10]}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"citywatch-bench-{part}-"))
        self.topics = Topics(self.prefix)
        self.processes: list[CitywatchProcess] = []
        self.groups: list[str] = [f"{self.prefix}-worker", f"{self.prefix}-alerts"]
        self.rule_files: list[Path] = []
        self.failed = True
        # On the cluster profile every client is a SCRAM user over TLS: the run's topics, grants and clean-up go
        # through the admin user, its processes connect as citywatch's own users (tools/devstack/cluster.py).
        self.cluster = KafkaCluster(config) if config.kafka_nodes > 1 else None

    @property
    def kafka(self) -> Connection:
        """How the run's own Kafka clients connect: the bootstrap, or the cluster's admin user."""
        return self.config.kafka_bootstrap if self.cluster is None else self.cluster.client_kwargs(ADMIN_USER)

    @property
    def feed_topic(self) -> str:
        return self.topics.feed("air", BENCH_DEPARTMENT)

    def env(self, registry_file: Path, partitions: int) -> dict[str, str]:
        return {
            env_name("kafka_bootstrap"): self.config.kafka_bootstrap,
            env_name("topic_prefix"): self.prefix,
            env_name("worker_app_id"): f"{self.prefix}-worker",
            env_name("alerts_group_id"): f"{self.prefix}-alerts",
            env_name("redis_url"): self.config.redis_url,
            env_name("redis_prefix"): self.prefix,
            env_name("alertmanager_url"): self.config.alertmanager_url,
            env_name("alertmanager_extra_labels"): f"bench={self.prefix}",
            env_name("registry_file"): str(registry_file),
            env_name("topic_partitions"): str(partitions),
            env_name("log_level"): "WARNING",
            **({} if self.cluster is None else self.cluster.client_env(WORKER_USER)),
        }

    def create_topics(self, registry_file: Path, partitions: int) -> None:
        self.grant_worker(registry_file, partitions, f"{self.prefix}-worker")
        create_topics(self.kafka, self.prefix, partitions, registry_file, f"{self.prefix}-worker")
        wait_for_leaders(self.kafka, [self.feed_topic])

    def preload_readings(self, count: int, stations: list[str], progress: Callable[[int], None]) -> None:
        """`count` readings of `stations` on the run's feed topic, each acknowledged once (acks=all, idempotent), so
        the workers have exactly `count` to count."""
        asyncio.run(preload(self.kafka, self.feed_topic, readings(count, stations), count, progress, idempotent=True))

    def grant_worker(self, registry_file: Path, partitions: int, app_id: str) -> None:
        """On the cluster: the run's topics with 3 replicas, and `citywatch-worker`'s grants for a worker app id
        (its group, changelogs and assignor topic). Nothing to do on one broker."""
        if self.cluster is not None:
            self.cluster.ensure_deployment(
                load_registry(registry_file),
                self.topics,
                partitions,
                worker_app_id=app_id,
                alerts_group_id=f"{self.prefix}-alerts",
            )

    def start(
        self,
        command: str,
        port_env: str,
        env: dict[str, str],
        health_path: str = "/metrics",
        name: str = "",
        wait_s: float = 120.0,
    ) -> CitywatchProcess:
        """A citywatch process of this run on a free port, scraped by Prometheus with the label bench=<prefix>."""
        port = free_port()
        name = name or f"{self.prefix}-{command}"
        proc = CitywatchProcess([command], name, self.tmp, {**env, port_env: str(port)}, port, health_path)
        self.processes.append(proc)
        proc.start(wait_s=wait_s)
        proc.register_target(self.config.targets_dir, {"bench": self.prefix})
        return proc

    def start_together(
        self, command: str, port_env: str, envs: list[dict[str, str]], names: list[str], wait_s: float = 120.0
    ) -> list[CitywatchProcess]:
        """Several processes spawned at once, then waited for (so that workers join their group together)."""
        procs = []
        for env, name in zip(envs, names, strict=True):
            port = free_port()
            proc = CitywatchProcess([command], name, self.tmp, {**env, port_env: str(port)}, port)
            self.processes.append(proc)
            proc.process.spawn([sys.executable, "-m", "citywatch", command], env=proc.env, cwd=REPO_ROOT)
            procs.append(proc)
        deadline = time.monotonic() + wait_s
        for proc in procs:
            assert proc.health_url is not None
            while not http_ok(proc.health_url):
                if not proc.process.is_running() or time.monotonic() > deadline:
                    raise ServerStartError(f"{proc.name} did not start; read {proc.log_file}")
                time.sleep(0.2)
            proc.register_target(self.config.targets_dir, {"bench": self.prefix})
        return procs

    def stop(self, proc: CitywatchProcess) -> None:
        proc.stop(timeout=30)
        (self.config.targets_dir / f"{proc.name}.json").unlink(missing_ok=True)

    def api_key(self, department: str = BENCH_DEPARTMENT) -> str:
        from redis.asyncio import Redis

        from services.auth.keys import KeyStore

        async def create() -> str:
            redis = Redis.from_url(self.config.redis_url)
            try:
                return (await KeyStore(redis, self.prefix).create(department, "publisher"))[0]
            finally:
                await redis.aclose()

        return asyncio.run(create())

    def add_prometheus_rules(self, text: str) -> Path:
        """A rule file of this run in the stack Prometheus's extra rules directory, loaded by /-/reload."""
        prometheus = Stack(self.config).prometheus
        prometheus.prepare()  # a Prometheus started before the extra rules directory existed learns of it here
        path = prometheus.extra_rules_dir / f"{self.prefix}.yml"
        path.write_text(text)
        self.rule_files.append(path)
        self.reload_prometheus()
        return path

    def reload_prometheus(self) -> None:
        request = urllib.request.Request(f"{self.config.prometheus_url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def close(self) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)
        if self.rule_files:
            for path in self.rule_files:
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.reload_prometheus()
        if not self.keep:
            with contextlib.suppress(Exception):
                deleted = delete_prefix(self.kafka, self.prefix, self.groups)
                self.console.print(f"deleted {len(deleted)} topics of prefix {self.prefix}")
            self._delete_redis_keys()
        if self.failed or self.keep:
            self.console.print(f"logs and data dirs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _delete_redis_keys(self) -> None:
        from redis import Redis

        with contextlib.suppress(Exception):
            redis = Redis.from_url(self.config.redis_url)
            try:
                keys = list(redis.scan_iter(match=f"{self.prefix}*", count=1000))
                for i in range(0, len(keys), 1000):
                    redis.delete(*keys[i : i + 1000])
            finally:
                redis.close()

    def __enter__(self) -> BenchRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.failed = exc[0] is not None
        self.close()


def bench_versions() -> dict[str, str]:
    out = versions()
    for dist in ("httpx", "kafka-python", "fastapi", "uvicorn"):
        with contextlib.suppress(Exception):
            from importlib import metadata

            out[dist] = metadata.version(dist)
    return out


__all__ = [
    "REPO_ROOT",
    "BenchRun",
    "BenchTimeout",
    "Deadline",
    "PartOptions",
    "bench_versions",
    "counted_progress",
    "machine",
    "now_iso",
    "read_rss",
    "scrape",
    "stack_servers",
]
