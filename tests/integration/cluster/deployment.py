"""One test's share of the cluster: a topic prefix, its topics (3 replicas) and every user's grants on them."""

from __future__ import annotations

import uuid
from typing import Any

from kafka import KafkaProducer

from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import REPO_ROOT

REGISTRY = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")


class Deployment:
    """One test's topic prefix on the cluster, its topics (3 replicas) and every user's grants on them. The users
    are the cluster's; their ACLs accumulate per prefix."""

    def __init__(self, cluster: KafkaCluster, partitions: int = 3) -> None:
        self.cluster = cluster
        self.id = f"c{uuid.uuid4().hex[:10]}"
        self.topics = Topics(self.id)
        self.app_id = f"{self.id}-worker"
        self.alerts_group_id = f"{self.id}-alerts"
        cluster.ensure_deployment(
            REGISTRY, self.topics, partitions, worker_app_id=self.app_id, alerts_group_id=self.alerts_group_id
        )

    def producer(self, user: str, **options: Any) -> KafkaProducer:
        return KafkaProducer(**self.cluster.client_kwargs(user), acks="all", max_block_ms=15_000, **options)
