"""The whole local stack: the four servers and, for `make up`, the citywatch processes."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import REPO_ROOT, StackConfig
from tools.devstack.servers import (
    Alertmanager,
    Kafka,
    ManagedProcess,
    Prometheus,
    Redis,
    Server,
    ServerStartError,
    http_ok,
)


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.kafka: Server = KafkaCluster(config) if config.kafka_nodes > 1 else Kafka(config)
        self.redis = Redis(config)
        self.prometheus = Prometheus(config)
        self.alertmanager = Alertmanager(config)

    @property
    def servers(self) -> list[Server]:
        return [self.kafka, self.redis, self.alertmanager, self.prometheus]

    def up(self, say: Callable[[str], None] = print) -> None:
        for server in self.servers:
            started = time.monotonic()
            say(f"starting {server.name} …")
            server.start()
            say(f"  {server.name} healthy after {time.monotonic() - started:.1f} s (log: {server.process.log_file})")

    def down(self, say: Callable[[str], None] = print) -> None:
        for server in reversed(self.servers):
            server.stop()
            say(f"stopped {server.name}")

    def status(self) -> dict[str, str]:
        return {server.name: server.status() for server in self.servers}


@dataclass
class CitywatchProcess:
    """One citywatch process (`citywatch <command>`) run in the background, scraped by Prometheus."""

    command: list[str]
    name: str
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    metrics_port: int | None = None
    health_path: str = "/metrics"

    def __post_init__(self) -> None:
        self.process = ManagedProcess(self.name, self.run_dir)
        self.started_at_byte = 0  # where the current run's lines begin: the log is appended to across restarts

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def log_of_this_run(self) -> str:
        """The log lines written since the process was last started."""
        if not self.log_file.exists():
            return ""
        with self.log_file.open("rb") as log:
            log.seek(self.started_at_byte)
            return log.read().decode(errors="replace")

    @property
    def health_url(self) -> str | None:
        return f"http://127.0.0.1:{self.metrics_port}{self.health_path}" if self.metrics_port else None

    def start(self, wait_s: float = 60.0) -> None:
        self.started_at_byte = self.log_file.stat().st_size if self.log_file.exists() else 0
        self.process.spawn([sys.executable, "-m", "citywatch", *self.command], env=self.env, cwd=REPO_ROOT)
        if self.health_url is None:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if http_ok(self.health_url):
                return
            if not self.process.is_running():
                raise ServerStartError(f"{self.name} exited during start-up; read {self.log_file}")
            time.sleep(0.2)
        raise ServerStartError(f"{self.name} did not answer {self.health_url} in {wait_s:.0f} s; read {self.log_file}")

    def stop(self, timeout: float = 20.0) -> None:
        self.process.stop(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the crash a restart must survive."""
        self.process.stop(timeout=5, sig=signal.SIGKILL)

    def register_target(self, targets_dir: Path, labels: dict[str, str] | None = None) -> Path:
        """Tell Prometheus (file_sd) to scrape this process."""
        if self.metrics_port is None:
            raise ValueError(f"{self.name} has no metrics port")
        targets_dir.mkdir(parents=True, exist_ok=True)
        path = targets_dir / f"{self.name}.json"
        entry = [
            {
                "targets": [f"127.0.0.1:{self.metrics_port}"],
                "labels": {"process": self.name, **(labels or {})},
            }
        ]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry))
        tmp.replace(path)  # atomic: Prometheus never reads half a file
        return path
