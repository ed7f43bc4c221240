"""Test harness: the real servers start once per test run; every test isolates itself by prefix.

Tests under tests/integration/ are marked `integration` automatically; `make check` skips them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.topics import Topics
from tools.devstack.config import REPO_ROOT, TEST, StackConfig
from tools.devstack.stack import CitywatchProcess, Stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    """Kafka, Redis, Prometheus and Alertmanager on the test profile's ports, started once."""
    s = Stack(TEST)
    s.up(say=lambda msg: None)
    yield TEST
    if not os.environ.get("CITYWATCH_KEEP_TEST_STACK"):
        s.down(say=lambda msg: None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Isolation:
    """Names one test owns: topics, consumer groups, Redis keys, processes."""

    def __init__(self, stack: StackConfig, tmp_path: Path) -> None:
        self.stack = stack
        self.id = f"t{uuid.uuid4().hex[:10]}"
        self.tmp_path = tmp_path
        self.processes: list[CitywatchProcess] = []
        self.partitions = 2

    @property
    def env(self) -> dict[str, str]:
        """Environment for a citywatch process of this test (short timeouts, own names)."""
        return {
            "CITYWATCH_KAFKA_BOOTSTRAP": self.stack.kafka_bootstrap,
            "CITYWATCH_TOPIC_PREFIX": self.id,
            "CITYWATCH_WORKER_APP_ID": f"{self.id}-worker",
            "CITYWATCH_ALERTS_GROUP_ID": f"{self.id}-alerts",
            "CITYWATCH_REDIS_URL": self.stack.redis_url,
            "CITYWATCH_REDIS_PREFIX": self.id,
            "CITYWATCH_ALERTMANAGER_URL": self.stack.alertmanager_url,
            "CITYWATCH_ALERTMANAGER_EXTRA_LABELS": f"test={self.id}",
            "CITYWATCH_WORKER_DATA_DIR": str(self.tmp_path / "worker"),
            "CITYWATCH_KAFKA_REQUEST_TIMEOUT_MS": "10000",
            "CITYWATCH_KAFKA_ACK_TIMEOUT_S": "5",
            "CITYWATCH_RESEND_INTERVAL_S": "5",
            "CITYWATCH_WORKER_SESSION_TIMEOUT_S": "10",
            "CITYWATCH_WORKER_STALL_AFTER_S": "10",
            "CITYWATCH_TOPIC_PARTITIONS": str(self.partitions),
        }

    def api_key(self, department: str, role: str = "publisher") -> str:
        """A real API key for this test's gateway (stored in the test's Redis prefix)."""
        from redis.asyncio import Redis

        from services.auth.keys import KeyStore

        async def create() -> str:
            redis = Redis.from_url(self.stack.redis_url)
            try:
                return (await KeyStore(redis, self.id).create(department, role))[0]  # type: ignore[arg-type]
            finally:
                await redis.aclose()

        return asyncio.run(create())

    def ensure_topics(self, partitions: int = 2) -> Topics:
        """This test's topics, feed topics of every registry department included."""
        from citywatch.site_registry import load_registry
        from services.topic_admin import ensure_topics

        self.partitions = partitions
        topics = Topics(self.id)
        registry = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
        ensure_topics(
            self.stack.kafka_bootstrap,
            topics,
            partitions,
            registry.feeds_by_department(),
            self.env["CITYWATCH_WORKER_APP_ID"],
        )
        return topics

    def start(
        self,
        command: str,
        port_env: str,
        health_path: str = "/metrics",
        args: tuple[str, ...] = (),
        **extra: str,
    ) -> CitywatchProcess:
        port = free_port()
        env = {**self.env, port_env: str(port), **extra}
        name = f"{self.id}-{command}"
        if any(p.name == name for p in self.processes):
            name = f"{name}-{len(self.processes)}"  # a second worker of the same app
        proc = CitywatchProcess([command, *args], name, self.stack.run_dir, env, port, health_path)
        self.processes.append(proc)
        proc.start(wait_s=90)
        proc.register_target(self.stack.targets_dir, {"test": self.id})
        return proc

    def close(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
            (self.stack.targets_dir / f"{proc.name}.json").unlink(missing_ok=True)


@pytest.fixture
def isolation(stack: StackConfig, tmp_path: Path) -> Iterator[Isolation]:
    iso = Isolation(stack, tmp_path)
    yield iso
    iso.close()
