"""One test's share of the cluster: a topic prefix, its topics (3 replicas) and every user's grants on them."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

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

    def read_all(self, user: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[bytes]:
        """Every value of `topic` (by partition, no group) once `expected` are there."""
        consumer = KafkaConsumer(**self.cluster.client_kwargs(user), enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            values: list[bytes] = []
            deadline = time.monotonic() + timeout_s
            while len(values) < expected and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    values += [r.value for r in records]
            return values
        finally:
            consumer.close()
