import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tools.devstack.config import CLUSTER, LOCAL, TEST
from tools.devstack.servers import Kafka, ManagedProcess, Prometheus, Server, ServerStartError


def test_profiles_do_not_share_ports_or_run_dirs_and_avoid_alertmanager_ports() -> None:
    ports = lambda c: {  # noqa: E731
        c.kafka_port,
        c.controller_port,
        c.departments_port,
        c.redis_port,
        c.prometheus_port,
        c.alertmanager_port,
    }
    assert not ports(LOCAL) & ports(TEST)
    assert LOCAL.run_dir != TEST.run_dir
    for config in (LOCAL, TEST):
        assert len(ports(config)) == 6
        assert config.controller_port not in (9093, 9094)
        assert config.departments_port not in (9093, 9094)


def test_the_cluster_profile_has_three_nodes_on_ports_of_its_own() -> None:
    nodes = {CLUSTER.kafka_port + n for n in range(3)} | {CLUSTER.controller_port + n for n in range(3)}
    servers = {CLUSTER.redis_port, CLUSTER.prometheus_port, CLUSTER.alertmanager_port}
    assert len(nodes | servers) == 9
    others = {p for c in (LOCAL, TEST) for p in (c.kafka_port, c.controller_port, c.departments_port, c.redis_port)}
    others |= {p for c in (LOCAL, TEST) for p in (c.prometheus_port, c.alertmanager_port)}
    assert not (nodes | servers) & (others | {9094})
    assert CLUSTER.kafka_bootstrap.split(",") == [f"127.0.0.1:{CLUSTER.kafka_port + n}" for n in range(3)]
    assert CLUSTER.departments_bootstrap == CLUSTER.kafka_bootstrap  # one SASL_SSL listener for every client
    assert CLUSTER.run_dir not in (LOCAL.run_dir, TEST.run_dir)


def test_the_cluster_nodes_properties_are_secured_and_replicated(tmp_path: Path) -> None:
    from tools.devstack.cluster import KafkaCluster

    cluster = KafkaCluster(replace(CLUSTER, run_dir=tmp_path))
    cluster.prepare_properties()
    for node in cluster.nodes:
        props = dict(
            line.split("=", 1) for line in node.properties.read_text().splitlines() if line and not line.startswith("#")
        )
        assert props["listener.security.protocol.map"] == "SCRAM:SASL_SSL,CONTROLLER:SSL"
        assert (
            props["listeners"] == f"SCRAM://127.0.0.1:{node.client_port},CONTROLLER://127.0.0.1:{node.controller_port}"
        )
        assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
        assert props["allow.everyone.if.no.acl.found"] == "false"
        assert "ANONYMOUS" not in props["super.users"]
        assert (props["default.replication.factor"], props["min.insync.replicas"]) == ("3", "2")
        assert props["auto.create.topics.enable"] == "false"
        assert props["controller.quorum.voters"].count("@127.0.0.1:") == 3


def test_kafka_and_prometheus_configs_are_rendered_for_loopback(tmp_path: Path) -> None:
    config = replace(TEST, run_dir=tmp_path)
    prometheus = Prometheus(config)
    prometheus.home.mkdir(parents=True)
    prometheus.prepare()
    text = (prometheus.home / "prometheus.yml").read_text()
    assert "${" not in text and f"127.0.0.1:{config.alertmanager_port}" in text
    kafka = Kafka(config)
    kafka.home.mkdir(parents=True)
    props = kafka.write_properties().read_text()
    assert f"PLAINTEXT://127.0.0.1:{config.kafka_port}" in props
    assert f"CONTROLLER://127.0.0.1:{config.controller_port}" in props
    assert f"DEPARTMENTS://127.0.0.1:{config.departments_port}" in props
    assert f"log.dirs={kafka.data_dir}" in props


def test_managed_process_records_its_pid_and_stops(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path)
    proc.spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"])
    assert proc.is_running()
    proc.stop(timeout=5)
    assert not proc.is_running() and not proc.pid_file.exists()


def test_a_server_that_dies_names_its_log(tmp_path: Path) -> None:
    class Broken(Server):
        name = "broken"

        def command(self) -> list[str]:
            return [sys.executable, "-c", "import sys; sys.exit('cannot bind')"]

        def healthy(self) -> bool:
            return False

    server = Broken(replace(TEST, run_dir=tmp_path))
    with pytest.raises(ServerStartError) as info:
        server.start()
    assert str(server.process.log_file) in str(info.value)
    time.sleep(0.1)
    assert "cannot bind" in server.process.log_file.read_text()
    server.stop()
