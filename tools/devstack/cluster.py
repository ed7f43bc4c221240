"""The cluster profile's Kafka: three combined broker+controller nodes (KRaft) from the same Maven jars, secured as
the Strimzi cluster of `deploy/kubernetes/kafka.yaml` is: every client listener SASL_SSL with SCRAM-SHA-512 only,
TLS from the profile's own CA (`certificates.py`), authorization on, replication 3, min ISR 2, no auto-created topics,
and the users and ACLs of `services/kafka_grants.py` (the same list the manifests' KafkaUsers come from).

Every user's password is a file of its own in `<run dir>/kafka-credentials/` (0600), ready for
`CITYWATCH_KAFKA_SASL_PASSWORD_FILE`; `client_env(user)` gives a process everything it needs to connect.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from citywatch.settings import env_name
from citywatch.site_registry import Registry
from citywatch.topics import Topics
from services.kafka_grants import ADMIN_USER, kafka_grants
from services.kafka_security import acls_of, acls_on, apply_grants, department_credentials, write_private
from services.topic_admin import ensure_topics, topic_configs
from tools.devstack.certificates import NODE_NAME, ClusterTls, cluster_tls
from tools.devstack.config import REPO_ROOT, StackConfig
from tools.devstack.servers import (
    ManagedProcess,
    Server,
    ServerStartError,
    cluster_id,
    java_command,
    port_open,
    render,
)

REPLICATION = 3
T = TypeVar("T")


class KafkaNode:
    """One node of the cluster: its id, ports, directory and process."""

    def __init__(self, config: StackConfig, index: int) -> None:
        self.node_id = index + 1
        self.client_port = config.kafka_port + index
        self.controller_port = config.controller_port + index
        self.home = config.run_dir / f"kafka-{self.node_id}"
        self.process = ManagedProcess(f"kafka-{self.node_id}", config.run_dir)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    def listening(self) -> bool:
        return self.process.is_running() and port_open(self.client_port)

    def ports_free(self, wait_s: float = 20.0) -> None:
        """Wait until nothing listens on the node's ports; a process this run did not start may hold them."""
        deadline = time.monotonic() + wait_s
        while any(port_open(port) for port in (self.client_port, self.controller_port)):
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"ports {self.client_port}/{self.controller_port} of kafka-{self.node_id} are taken by a process "
                    "the stack did not start (an earlier run's node?): stop it, e.g. `fuser -k "
                    f"{self.client_port}/tcp {self.controller_port}/tcp`, and start again"
                )
            time.sleep(0.2)

    def spawn(self, command: list[str]) -> None:
        self.process.stop()
        self.ports_free()
        self.process.spawn(command)


class KafkaCluster(Server):
    """The three nodes, started and stopped together; `kill` and `revive` take one away and bring it back."""

    name = "kafka"
    start_timeout_s = 150.0

    def __init__(self, config: StackConfig) -> None:
        super().__init__(config)
        self.nodes = [KafkaNode(config, n) for n in range(config.kafka_nodes)]
        self.process = self.nodes[0].process  # where `stack up` points for the log
        self.credentials_dir = config.run_dir / "kafka-credentials"

    @property
    def url(self) -> str:
        return self.config.kafka_bootstrap

    @property
    def tls(self) -> ClusterTls:
        return cluster_tls(self.config.run_dir / "tls")

    # --- users -------------------------------------------------------------------------------------------------------
    def password_file(self, user: str) -> Path:
        """The file holding a user's password, made (random, 0600) the first time it is asked for."""
        path = self.credentials_dir / user
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24))
        return path

    def password(self, user: str) -> str:
        """A department's from the stack's department passwords (`citywatch kafka-access credentials` shows them,
        `topics ensure` sets them), a process's from its own file."""
        departments = department_credentials(self.config.run_dir)
        if user in departments:
            return departments[user]
        return self.password_file(user).read_text().strip()

    def client_kwargs(self, user: str = ADMIN_USER, node: KafkaNode | None = None) -> dict[str, Any]:
        """Keywords of a kafka-python or aiokafka client connecting as `user` (to `node` alone, when given: a client
        bootstrapped at one node asks that node)."""
        return {
            "bootstrap_servers": self.config.kafka_bootstrap if node is None else f"127.0.0.1:{node.client_port}",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user,
            "sasl_plain_password": self.password(user),
            "ssl_context": ssl.create_default_context(cafile=str(self.tls.ca_pem)),
        }

    def client_env(self, user: str) -> dict[str, str]:
        """The `CITYWATCH_*` settings of a citywatch process connecting as `user`."""
        return {
            env_name("kafka_bootstrap"): self.config.kafka_bootstrap,
            env_name("kafka_security_protocol"): "SASL_SSL",
            env_name("kafka_sasl_mechanism"): "SCRAM-SHA-512",
            env_name("kafka_sasl_username"): user,
            env_name("kafka_sasl_password_file"): str(self.password_file(user)),
            env_name("kafka_ssl_cafile"): str(self.tls.ca_pem),
            env_name("kafka_replication_factor"): str(REPLICATION),
        }

    # --- servers -----------------------------------------------------------------------------------------------------
    def prepare_properties(self) -> None:
        """Every node's server.properties, from `deploy/local/kafka/cluster.properties`."""
        tls = self.tls
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            render(
                REPO_ROOT / "deploy/local/kafka/cluster.properties",
                node.properties,
                {
                    "node_id": node.node_id,
                    "voters": voters,
                    "client_port": node.client_port,
                    "controller_port": node.controller_port,
                    "admin_user": ADMIN_USER,
                    "admin_password": self.password(ADMIN_USER),
                    "keystore": tls.keystore,
                    "truststore": tls.truststore,
                    "store_password": tls.password,
                    "node_principal": NODE_NAME,
                    "data_dir": node.data_dir,
                },
            )

    def prepare(self) -> None:
        """The properties, and each node's storage formatted once, with the admin user's SCRAM credentials in it."""
        self.prepare_properties()
        formatted_as = _cluster_id_of(self.nodes) or cluster_id()
        for node in self.nodes:
            if not (node.data_dir / "meta.properties").exists():
                node.data_dir.mkdir(parents=True, exist_ok=True)
                scram = f"SCRAM-SHA-512=[name={ADMIN_USER},password={self.password(ADMIN_USER)}]"
                format_ = ["kafka.tools.StorageTool", "format", "-t", formatted_as, "-c", str(node.properties)]
                done = subprocess.run(
                    [*java_command(self.config), *format_, "--add-scram", scram],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise ServerStartError(f"formatting kafka-{node.node_id} failed:\n{done.stdout}\n{done.stderr}")

    def command_of(self, node: KafkaNode) -> list[str]:
        return [*java_command(self.config), "kafka.Kafka", str(node.properties)]

    def start(self) -> None:
        if all(node.process.is_running() for node in self.nodes) and self.healthy():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        for node in self.nodes:  # a quorum needs two of them up: start them all, then wait
            if not node.listening():
                node.spawn(self.command_of(node))
        self.wait_healthy()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.healthy():
                return
            dead = [n for n in self.nodes if not n.process.is_running()]
            if dead:
                logs = ", ".join(str(n.process.log_file) for n in dead)
                raise ServerStartError(f"kafka node(s) exited during start-up; read {logs}")
            time.sleep(0.5)
        raise ServerStartError(
            f"the Kafka cluster did not become healthy within {self.start_timeout_s:.0f} s; read "
            + ", ".join(str(n.process.log_file) for n in self.nodes)
        )

    def healthy(self) -> bool:
        """Every node listens and the admin user, over SASL_SSL, sees all of them as brokers."""
        if not all(node.listening() for node in self.nodes):
            return False
        return len(self.brokers()) == len(self.nodes)

    def brokers(self) -> set[int]:
        """The node ids the cluster's metadata lists as live brokers (empty when it does not answer)."""
        answer = self._ask(lambda admin: {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"]}, 3000)
        return answer or set()

    def _ask(self, question: Callable[[Any], T], timeout_ms: int, node: KafkaNode | None = None) -> T | None:
        """`question(admin client)` as the admin user (of `node` alone, when given); None when it does not answer."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                **self.client_kwargs(node=node), client_id="citywatch-cluster", request_timeout_ms=timeout_ms
            )
        except (KafkaError, OSError):
            return None
        try:
            return question(admin)
        except (KafkaError, OSError):
            return None
        finally:
            admin.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.process.stop()

    def status(self) -> str:
        running = [n.node_id for n in self.nodes if n.process.is_running()]
        if not running:
            return "stopped"
        if self.healthy():
            return f"healthy ({len(running)} nodes)"
        return f"nodes {running} running, not healthy"

    # --- faults ------------------------------------------------------------------------------------------------------
    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: what a lost machine does."""
        import signal

        self.node(node_id).process.stop(timeout=5, sig=signal.SIGKILL)

    def revive(self, node_id: int) -> None:
        """Start a killed node again (its data directory is as the kill left it)."""
        node = self.node(node_id)
        node.spawn(self.command_of(node))

    def leaders(self, topic_names: list[str], avoid: int | None = None) -> dict[tuple[str, int], int]:
        """(topic, partition) → leading node (-1: none), as a live node other than `avoid` knows it; empty when it
        could not be asked (a client may still try a killed node while the cluster fences it)."""
        node = next(n for n in self.nodes if n.node_id != avoid)
        answer = self._ask(
            lambda admin: {
                (topic["name"], p["partition_index"]): p["leader_id"]
                for topic in admin.describe_topics(topic_names)
                for p in topic["partitions"]
            },
            5000,
            node,
        )
        return answer or {}

    def live_leaders(
        self, partitions: Collection[tuple[str, int]], lost: int | None = None
    ) -> dict[tuple[str, int], int] | None:
        """The leaders of `partitions` when each of them is led by a live node other than `lost` (as such a node
        knows it); None while one is not, or the cluster does not answer."""
        leaders = self.leaders(sorted({topic for topic, _ in partitions}), avoid=lost)
        if all(leaders.get(p, -1) not in (lost, -1) for p in partitions):
            return {p: leaders[p] for p in partitions}
        return None

    # --- topics, users and ACLs -----------------------------------------------------------------------------------------
    @contextmanager
    def admin(self) -> Iterator[Any]:
        from kafka import KafkaAdminClient

        client = KafkaAdminClient(**self.client_kwargs(), client_id="citywatch-cluster")
        try:
            yield client
        finally:
            client.close()

    def ensure_deployment(
        self, registry: Registry, topics: Topics, partitions: int, *, worker_app_id: str, alerts_group_id: str
    ) -> dict[str, Path]:
        """Topics of a prefix (3 replicas) and every user of `kafka_grants` with its ACLs; returns each process
        user's password file. Idempotent."""
        department_feeds = registry.feeds_by_department()
        ensure_topics(self.client_kwargs(), topics, partitions, department_feeds, worker_app_id, REPLICATION)
        grants = kafka_grants(topics, department_feeds, worker_app_id=worker_app_id, alerts_group_id=alerts_group_id)
        department_credentials(self.config.run_dir, department_feeds)  # made for the departments that lack one
        with self.admin() as admin:
            apply_grants(admin, grants, {user: self.password(user) for user in grants})
        names = set(topic_configs(topics, department_feeds, worker_app_id))
        self.wait_until_every_node_sees(names, acls_of(grants))
        return {user: self.password_file(user) for user in grants if user not in department_feeds}

    def wait_until_every_node_sees(self, topic_names: set[str], acls: set[Any], wait_s: float = 30.0) -> None:
        """Each node learns of new topics and ACLs from the metadata log on its own, a moment apart: ask each one
        (a client bootstrapped at it alone asks it) until all of them know them, so a client refused by a node
        that had not heard yet is not a test's or a process's first experience of the cluster."""
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + wait_s
        for node in self.nodes:
            admin = KafkaAdminClient(**self.client_kwargs(node=node), client_id="citywatch-cluster")
            try:
                while not (topic_names <= set(admin.list_topics()) and acls <= acls_on(admin)):
                    if time.monotonic() > deadline:
                        raise ServerStartError(f"kafka-{node.node_id} did not learn of the new topics and ACLs in time")
                    time.sleep(0.2)
            finally:
                admin.close()


def _cluster_id_of(nodes: list[KafkaNode]) -> str | None:
    """The id an earlier format gave the nodes: a node formatted again must join the same cluster."""
    for node in nodes:
        meta = node.data_dir / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None
