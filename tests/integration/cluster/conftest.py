"""The cluster profile's Kafka (`citywatch stack up --profile cluster`), started once for this folder's tests and
stopped after the last of them; each test isolates itself by topic prefix (a `Deployment`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster.deployment import Deployment
from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import CLUSTER


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/cluster/" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="package")
def cluster() -> Iterator[KafkaCluster]:
    kafka = KafkaCluster(CLUSTER)
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture
def deployment(cluster: KafkaCluster) -> Deployment:
    return Deployment(cluster)
