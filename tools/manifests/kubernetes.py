"""The registry-derived part of `deploy/kubernetes/`: Strimzi KafkaTopics, KafkaUsers with their ACLs, the registry
ConfigMap.

Everything here follows from `citywatch/topics.py`, `services/topics.py` (names, retention, which department writes
which feed) and the site registry, so it is generated rather than written by hand: `citywatch deploy kubernetes
--out deploy/kubernetes` writes the files, and a unit test fails when the committed files differ from what this
module generates. The hand-written manifests (cluster, workloads, Redis, scrape config) sit beside them.

The ACLs mirror `services/kafka_security.py`: a department may WRITE and DESCRIBE its own feed topics (LITERAL names)
and nothing else; citywatch's own processes get only what they use (docs/architecture.md, Processes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from citywatch.site_registry import Registry
from citywatch.topics import Topics
from services.kafka_grants import KUBERNETES_NAME, Grant, kafka_grants
from services.topic_admin import topic_configs

# The Strimzi API version of every custom resource. Strimzi 0.49 added `v1`; 1.0 removed `v1beta2`.
STRIMZI_API = "kafka.strimzi.io/v1"
CLUSTER = "citywatch"
CLUSTER_LABEL = "strimzi.io/cluster"
REPLICAS = 3
MIN_INSYNC_REPLICAS = 2
# Partitions of every topic. The worker's tables are co-partitioned with its source topics, so this is also
# CITYWATCH_TOPIC_PARTITIONS of the worker, and the most workers that can share the load (docs/scaling.md).
PARTITIONS = 12

TOPICS_FILE = "kafka-topics.yaml"
USERS_FILE = "kafka-users.yaml"
REGISTRY_FILE = "registry-configmap.yaml"
REGISTRY_CONFIGMAP = "citywatch-registry"
REGISTRY_KEY = "registry.yaml"


@dataclass(frozen=True)
class Deployment:
    """What the generated manifests depend on besides the registry."""

    topic_prefix: str = "citywatch"
    worker_app_id: str = "citywatch-worker"
    alerts_group_id: str = "citywatch-alerts"
    partitions: int = PARTITIONS


def leader_topic(app_id: str) -> str:
    """faust's assignor topic (one partition), which every worker declares at start."""
    return f"{app_id}-__assignor-__leader"


def resource_name(topic: str) -> str:
    """A Kubernetes object name for a topic: Kafka allows `_` (and upper case), object names do not."""
    name = re.sub(r"[^a-z0-9.-]", "-", topic.lower()).strip("-.")
    if not KUBERNETES_NAME.match(name) or len(name) > 253:
        raise ValueError(f"topic {topic!r} has no valid Kubernetes object name")
    return name


def kafka_topics(deployment: Deployment, registry: Registry) -> list[dict[str, Any]]:
    """A KafkaTopic for every topic `citywatch topics ensure` creates, with the same configuration."""
    topics = Topics(deployment.topic_prefix)
    configs = topic_configs(topics, registry.feeds_by_department(), deployment.worker_app_id)
    documents = [_topic(name, deployment.partitions, config) for name, config in sorted(configs.items())]
    # faust creates the leader topic with one partition; declaring it here means the worker needs no cluster CREATE.
    documents.append(_topic(leader_topic(deployment.worker_app_id), 1, {}))
    names = [d["metadata"]["name"] for d in documents]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"topics map to the same Kubernetes name: {duplicates}")
    return documents


def kafka_users(deployment: Deployment, registry: Registry) -> list[dict[str, Any]]:
    """A SCRAM KafkaUser per department (its own feed topics only) and one per citywatch process
    (`services/kafka_grants.py`)."""
    grants = kafka_grants(
        Topics(deployment.topic_prefix),
        registry.feeds_by_department(),
        worker_app_id=deployment.worker_app_id,
        alerts_group_id=deployment.alerts_group_id,
    )
    return [
        {
            "apiVersion": STRIMZI_API,
            "kind": "KafkaUser",
            "metadata": {"name": name, "labels": {CLUSTER_LABEL: CLUSTER}},
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {"type": "simple", "acls": [_acl(g) for g in user_grants]},
            },
        }
        for name, user_grants in grants.items()
    ]


def registry_configmap(registry_text: str) -> dict[str, Any]:
    """The registry file, as the worker and the gateway read it (`CITYWATCH_REGISTRY_FILE`)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": REGISTRY_CONFIGMAP},
        "data": {REGISTRY_KEY: registry_text},
    }


def render(deployment: Deployment, registry: Registry, registry_path: Path) -> dict[str, str]:
    """File name -> YAML text of every generated manifest."""
    source = f"{registry_path.as_posix()}, citywatch/topics.py and services/topics.py"
    return {
        TOPICS_FILE: _dump(kafka_topics(deployment, registry), source),
        USERS_FILE: _dump(kafka_users(deployment, registry), source),
        REGISTRY_FILE: _dump([registry_configmap(registry_path.read_text(encoding="utf-8"))], source),
    }


def stale_files(out_dir: Path, rendered: Mapping[str, str]) -> list[str]:
    """The generated files that are missing from `out_dir` or differ from `rendered`."""
    return sorted(
        name
        for name, text in rendered.items()
        if not (out_dir / name).exists() or (out_dir / name).read_text(encoding="utf-8") != text
    )


def _topic(name: str, partitions: int, config: Mapping[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"topicName": name, "partitions": partitions, "replicas": REPLICAS}
    if config:
        spec["config"] = dict(config)
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaTopic",
        "metadata": {"name": resource_name(name), "labels": {CLUSTER_LABEL: CLUSTER}},
        "spec": spec,
    }


def _acl(grant: Grant) -> dict[str, Any]:
    """A Strimzi ACL rule (`operations`, the form the v1 User Operator reads)."""
    if grant.kind == "cluster":
        return {"resource": {"type": "cluster"}, "operations": list(grant.operations), "host": "*"}
    return {
        "resource": {"type": grant.kind, "name": grant.name, "patternType": grant.pattern},
        "operations": list(grant.operations),
        "host": "*",
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(documents: list[dict[str, Any]], source: str) -> str:
    header = f"# GENERATED by `citywatch deploy kubernetes` from {source}: do not edit.\n"
    body = yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, explicit_start=True)
    return header + body
