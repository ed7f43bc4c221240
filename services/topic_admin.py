"""Create citywatch's topics with their partitions and retention (kafka-python admin client)."""

from __future__ import annotations

import contextlib

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from citywatch.topics import WORKER_TABLES, Topics, changelog
from services.kafka_client import Connection, connection_kwargs

# Topics kept indefinitely: the alert history and the record the plan is evaluated on.
KEEP_FOREVER = {"retention.ms": "-1"}
COMPACTED = {"cleanup.policy": "compact"}


FEED_RETENTION = {"retention.ms": str(30 * 24 * 3600 * 1000)}
# A publisher follows its receipt while it waits for its readings to count: a week is plenty.
RECEIPT_RETENTION = {"retention.ms": str(7 * 24 * 3600 * 1000)}


def topic_configs(
    topics: Topics, grants: dict[str, set[str]], worker_app_id: str | None = None
) -> dict[str, dict[str, str]]:
    """Every topic with its configuration; `grants` maps each department to the feeds it publishes."""
    feeds = {topics.feed(feed, dept): FEED_RETENTION for dept, dept_feeds in grants.items() for feed in dept_feeds}
    changelogs = {changelog(worker_app_id, t): COMPACTED for t in WORKER_TABLES} if worker_app_id else {}
    return {
        **feeds,
        **changelogs,
        topics.indicators: KEEP_FOREVER,
        topics.contributions: FEED_RETENTION,  # replayed to rebuild district state within a feed's lateness
        topics.rule_evaluations: {"retention.ms": str(7 * 24 * 3600 * 1000)},
        topics.alerts: KEEP_FOREVER,
        topics.dead_letter: {"retention.ms": str(90 * 24 * 3600 * 1000)},
        topics.receipts: RECEIPT_RETENTION,
    }


def ensure_topics(
    client: Connection,
    topics: Topics,
    partitions: int,
    grants: dict[str, set[str]],
    worker_app_id: str | None = None,
    replication: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. `client` is a bootstrap, or the keywords
    of a secured client (`services.kafka_client.client_kwargs`).

    With `worker_app_id`, the worker's table changelogs are created too (compacted, co-partitioned): a worker
    that creates them itself can join its group before the broker's metadata lists them, and then fails with
    a partitions mismatch (seen on Kafka 4.1 in about one start in four).
    """
    admin = KafkaAdminClient(**connection_kwargs(client), client_id="citywatch-topics")
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=partitions, replication_factor=replication, topic_configs=configs)
            for name, configs in topic_configs(topics, grants, worker_app_id).items()
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        admin.close()
