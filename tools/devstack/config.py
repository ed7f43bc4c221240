"""Where the local stack lives: ports, run directory, sizes. Three profiles: `local` (make up), `test` (the test
suite's own ports and run directory, so it can run while a local stack is up) and `cluster` (three secured Kafka
nodes, `tools/devstack/cluster.py`; the cluster tests' own ports and run directory).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citywatch.settings import ToolEnvironment

TOOLS = ToolEnvironment()
REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_ROOT = Path(TOOLS.run_root) if TOOLS.run_root else REPO_ROOT / ".run"


@dataclass(frozen=True)
class StackConfig:
    name: str
    run_dir: Path
    kafka_port: int
    controller_port: int
    # Kafka's DEPARTMENTS listener: SASL/SCRAM, where departments' own producers connect (docs/kafka-security.md).
    departments_port: int
    redis_port: int
    prometheus_port: int
    alertmanager_port: int
    scrape_interval: str
    kafka_heap: str = "768m"
    # More than one: a cluster of combined broker+controller nodes on consecutive ports from kafka_port (clients) and
    # controller_port, every client listener SASL_SSL (tools/devstack/cluster.py); departments_port is unused.
    kafka_nodes: int = 1

    @property
    def kafka_libs(self) -> Path:
        # Shared by both profiles: the jars are the same, only the data differs.
        return RUN_ROOT / "kafka-libs"

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + n}" for n in range(self.kafka_nodes))

    @property
    def departments_bootstrap(self) -> str:
        """Bootstrap of the SASL/SCRAM listener departments publish through (on a cluster, every client's)."""
        return self.kafka_bootstrap if self.kafka_nodes > 1 else f"127.0.0.1:{self.departments_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    @property
    def targets_dir(self) -> Path:
        return self.run_dir / "prometheus" / "targets"


LOCAL = StackConfig(
    name="local",
    run_dir=RUN_ROOT / "local",
    kafka_port=9092,
    controller_port=9095,
    departments_port=9096,
    redis_port=6379,
    prometheus_port=9090,
    alertmanager_port=9093,
    scrape_interval="5s",
)

# Two test stacks on one machine (two clones, two engineers) need ports apart: CITYWATCH_TEST_PORT_OFFSET shifts them.
_OFFSET = TOOLS.test_port_offset

TEST = StackConfig(
    name="test",
    run_dir=RUN_ROOT / "test",
    kafka_port=19092 + _OFFSET,
    controller_port=19095 + _OFFSET,
    departments_port=19096 + _OFFSET,
    redis_port=16379 + _OFFSET,
    prometheus_port=19090 + _OFFSET,
    alertmanager_port=19093 + _OFFSET,
    scrape_interval="1s",
)

CLUSTER = StackConfig(
    name="cluster",
    run_dir=RUN_ROOT / "cluster",
    kafka_port=29092 + _OFFSET,  # and the next two
    controller_port=29192 + _OFFSET,  # and the next two
    departments_port=29092 + _OFFSET,
    redis_port=26379 + _OFFSET,
    prometheus_port=29390 + _OFFSET,
    alertmanager_port=29393 + _OFFSET,
    scrape_interval="1s",
    kafka_heap="512m",
    kafka_nodes=3,
)

PROFILES = {"local": LOCAL, "test": TEST, "cluster": CLUSTER}
