"""The Kubernetes manifests run Kafka as the cluster profile does, so what the cluster tests prove on loopback holds
for them: the same replication and in-sync minimum, no auto-created topics, SCRAM-SHA-512 over TLS on every client
listener, ACLs checked, the same users and grants (both from `services/kafka_grants.py`), and processes that create
topics with as many replicas as the cluster has nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from citywatch.settings import CommonSettings
from tools.devstack.cluster import REPLICATION
from tools.devstack.config import CLUSTER

ROOT = Path(__file__).resolve().parents[3]
SHARED_CONFIG = (
    "default.replication.factor",
    "min.insync.replicas",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "auto.create.topics.enable",
)


def cluster_properties() -> dict[str, str]:
    text = (ROOT / "deploy/local/kafka/cluster.properties").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def manifest(file: str, kind: str) -> dict[str, Any]:
    documents = yaml.safe_load_all((ROOT / "deploy/kubernetes" / file).read_text(encoding="utf-8"))
    (found,) = [d for d in documents if d and d["kind"] == kind]
    return dict(found)


def test_the_brokers_config_is_the_cluster_profiles() -> None:
    local = cluster_properties()
    strimzi = manifest("kafka.yaml", "Kafka")["spec"]["kafka"]
    assert {key: str(strimzi["config"][key]).lower() for key in SHARED_CONFIG} == {
        key: local[key] for key in SHARED_CONFIG
    }
    pool = manifest("kafka.yaml", "KafkaNodePool")["spec"]
    assert pool["replicas"] == CLUSTER.kafka_nodes == REPLICATION
    assert sorted(pool["roles"]) == sorted(local["process.roles"].split(","))


def test_every_client_listener_wants_scram_over_tls_and_acls_decide() -> None:
    local = cluster_properties()
    protocols = dict(entry.split(":") for entry in local["listener.security.protocol.map"].split(","))
    client_listeners = [name for name in protocols if name != local["controller.listener.names"]]
    assert {protocols[name] for name in client_listeners} == {"SASL_SSL"}
    assert local["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert local["allow.everyone.if.no.acl.found"] == "false"
    strimzi = manifest("kafka.yaml", "Kafka")["spec"]["kafka"]
    assert {(listener["tls"], listener["authentication"]["type"]) for listener in strimzi["listeners"]} == {
        (True, "scram-sha-512")
    }
    assert strimzi["authorization"]["type"] == "simple"


def test_processes_create_topics_with_the_clusters_replication() -> None:
    common = manifest("common.yaml", "ConfigMap")["data"]
    assert int(common["CITYWATCH_KAFKA_REPLICATION_FACTOR"]) == REPLICATION
    assert common["CITYWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert common["CITYWATCH_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert CommonSettings.model_fields["kafka_replication_factor"].default == 1  # the one-broker stacks: 1 replica
