"""The real servers of the local stack, each a process started from its package or jars.

Every server keeps its state and log under the stack's run directory and binds to 127.0.0.1 only. A server
that does not come up raises `ServerStartError` naming the log file to read.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

from tools.devstack.config import REPO_ROOT, StackConfig


class ServerStartError(RuntimeError):
    """A server did not become healthy in time; the message says which log to read."""


@dataclass
class ManagedProcess:
    """A background process with a pid file and a log file in the run directory."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def spawn(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd or REPO_ROOT,
                start_new_session=True,  # a Ctrl-C in the shell that ran `up` must not stop the stack
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie whose parent is not us still answers kill(0); /proc tells the truth.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def render(template: Path, dest: Path, values: dict[str, object]) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(Template(template.read_text()).substitute({k: str(v) for k, v in values.items()}))
    return dest


class Server:
    """Base of the four servers: start if not running, wait until healthy, stop."""

    name = "server"
    start_timeout_s = 60.0

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.process = ManagedProcess(self.name, config.run_dir)
        self.home = config.run_dir / self.name

    # subclasses define these
    def command(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write configuration and create data directories before the first start."""

    @property
    def url(self) -> str:
        return ""

    def start(self) -> None:
        if self.process.is_running() and self.healthy():
            return
        self.process.stop()
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        self.process.spawn(self.command())
        self.wait_healthy()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if not self.process.is_running():
                raise ServerStartError(
                    f"{self.name} exited during start-up; read {self.process.log_file} for the reason"
                )
            time.sleep(0.25)
        raise ServerStartError(
            f"{self.name} did not become healthy within {self.start_timeout_s:.0f} s; read {self.process.log_file}"
        )

    def stop(self) -> None:
        self.process.stop()

    def status(self) -> str:
        if not self.process.is_running():
            return "stopped"
        return "healthy" if self.healthy() else "running, not healthy"


class Kafka(Server):
    """Apache Kafka, one combined broker+controller in KRaft mode, run from Maven Central jars."""

    name = "kafka"
    start_timeout_s = 90.0

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.config.kafka_port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def write_properties(self) -> Path:
        return render(
            REPO_ROOT / "deploy/local/kafka/server.properties",
            self.home / "server.properties",
            {
                "kafka_port": self.config.kafka_port,
                "controller_port": self.config.controller_port,
                "departments_port": self.config.departments_port,
                "data_dir": self.data_dir,
            },
        )

    def prepare(self) -> None:
        props = self.write_properties()
        if not (self.data_dir / "meta.properties").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                [*java_command(self.config), "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(props)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ServerStartError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")

    def command(self) -> list[str]:
        return [*java_command(self.config), "kafka.Kafka", str(self.home / "server.properties")]

    def healthy(self) -> bool:
        # The DEPARTMENTS (SASL) listener too: a broker still running an older config without it is restarted.
        if not (port_open(self.config.kafka_port) and port_open(self.config.departments_port)):
            return False
        return _broker_answers(self.url)


def java_command(config: StackConfig) -> list[str]:
    """`java` with the Kafka jars on the class path and the stack's heap (a class name and its arguments follow)."""
    libs = config.kafka_libs
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise ServerStartError(f"no Kafka jars in {libs}; run `citywatch stack install` first")
    log4j = REPO_ROOT / "deploy/local/kafka/log4j.properties"
    return [
        shutil.which("java") or "java",
        f"-Xmx{config.kafka_heap}",
        f"-Xms{config.kafka_heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{libs}/*",
    ]


class Redis(Server):
    """redis-server with AOF persistence, bound to loopback."""

    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.config.redis_port}/0"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.config.redis_port),
            "--dir",
            str(self.home),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]

    def healthy(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.config.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class Prometheus(Server):
    """Prometheus scraping the citywatch processes listed in the run directory's file_sd targets."""

    name = "prometheus"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.prometheus_port}"

    @property
    def targets_dir(self) -> Path:
        return self.home / "targets"

    @property
    def extra_rules_dir(self) -> Path:
        """Rule files a run adds for itself (benchmarks); loaded beside the shipped ones on /-/reload."""
        return self.home / "rules"

    def prepare(self) -> None:
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.extra_rules_dir.mkdir(parents=True, exist_ok=True)
        render(
            REPO_ROOT / "deploy/local/prometheus.yml",
            self.home / "prometheus.yml",
            {
                "scrape_interval": self.config.scrape_interval,
                "deployment": self.config.name,
                "alertmanager_port": self.config.alertmanager_port,
                "prometheus_port": self.config.prometheus_port,
                "targets_dir": self.targets_dir,
                "rules_dir": REPO_ROOT / "deploy/prometheus/rules",
                "extra_rules_dir": self.extra_rules_dir,
            },
        )

    def command(self) -> list[str]:
        return [
            "prometheus",
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.config.prometheus_port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=15d",
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/-/ready")


class Alertmanager(Server):
    """Prometheus Alertmanager, single node (gossip off), with citywatch's routing config."""

    name = "alertmanager"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.alertmanager_port}"

    def command(self) -> list[str]:
        return [
            "prometheus-alertmanager",
            f"--config.file={REPO_ROOT / 'deploy/alertmanager/alertmanager.yml'}",
            f"--storage.path={self.home}",
            f"--web.listen-address=127.0.0.1:{self.config.alertmanager_port}",
            "--cluster.listen-address=",
        ]

    def healthy(self) -> bool:
        return http_ok(f"{self.url}/-/ready")


def cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding (what `random-uuid` prints).

    Like Kafka's own generator, draw again when the id starts with '-': the storage tool would read it as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _broker_answers(bootstrap: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
