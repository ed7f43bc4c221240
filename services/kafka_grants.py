"""Who may do what on a secured Kafka: one SCRAM user per department and per citywatch process, each with only the
ACLs it uses. Pure: the Kubernetes manifests render these grants as Strimzi `KafkaUser`s
(`tools/manifests/kubernetes.py`), and the cluster profile of the local stack applies them to its brokers
(`services/kafka_security.py: apply_grants`), so both run on the same list.

A department may WRITE and DESCRIBE its own feed topics (literal names) and nothing else. The processes:

| user | reads | writes |
|---|---|---|
| `citywatch-worker` | feed topics, indicators, contributions, its group and `<app id>-*` (changelogs, assignor) | indicators, rule evaluations, dead letters, receipts, contributions, `<app id>-*` |
| `citywatch-ingest` | dead letters, receipts (its outcome group) | feed topics, dead letters |
| `citywatch-alerts` | rule evaluations (its group) | alerts |
| `citywatch-report` | indicators, alerts (whole topics by partition: no group) | nothing |
| `citywatch-admin` | everything: a super user (`topics ensure`, users and ACLs) | |

Every producer is idempotent, so its user also gets `IdempotentWrite` on the cluster (aiokafka asks for a producer id
with a request version the broker checks against it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from citywatch.topics import Topics

WORKER_USER = "citywatch-worker"
GATEWAY_USER = "citywatch-ingest"
ALERTS_USER = "citywatch-alerts"
REPORT_USER = "citywatch-report"  # `citywatch report`, `tail`: read whole topics by partition, so they need no group
ADMIN_USER = "citywatch-admin"  # `topics ensure` and the users and ACLs: a super user, never a running process

ResourceKind = Literal["topic", "group", "cluster"]
Operation = Literal["Read", "Write", "Describe", "Create", "IdempotentWrite"]

KUBERNETES_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
"""What Kubernetes accepts as an object name (RFC 1123 subdomain): a Strimzi KafkaUser is named by its user."""


@dataclass(frozen=True)
class Grant:
    """Operations allowed on one resource (a literal name, or every name starting with `name` for a prefix)."""

    kind: ResourceKind
    name: str
    operations: tuple[Operation, ...]
    pattern: Literal["literal", "prefix"] = "literal"


IDEMPOTENT_WRITE = Grant("cluster", "kafka-cluster", ("IdempotentWrite",))


def scram_user(department: str, user_prefix: str = "") -> str:
    """The Kafka (SCRAM) user name of a department."""
    return f"{user_prefix}{department}"


def kafka_grants(
    topics: Topics,
    department_feeds: Mapping[str, set[str]],
    *,
    worker_app_id: str,
    alerts_group_id: str,
) -> dict[str, list[Grant]]:
    """Every user's grants: the departments' (by `scram_user`) and the processes'. Raises ValueError when a
    department's user name clashes with a process's or is no valid user (Strimzi names a KafkaUser by it)."""
    feed_topics = sorted(topics.feed(feed, d) for d, feeds in department_feeds.items() for feed in feeds)
    users: dict[str, list[Grant]] = {
        scram_user(department): [
            Grant("topic", topics.feed(feed, department), ("Write", "Describe")) for feed in sorted(feeds)
        ]
        for department, feeds in sorted(department_feeds.items())
    }
    processes: dict[str, list[Grant]] = {
        WORKER_USER: [
            *(Grant("topic", t, ("Read", "Describe")) for t in feed_topics),
            Grant("topic", topics.indicators, ("Read", "Write", "Describe")),
            Grant("topic", topics.rule_evaluations, ("Write", "Describe")),
            Grant("topic", topics.dead_letter, ("Write", "Describe")),
            Grant("topic", topics.receipts, ("Write", "Describe")),
            Grant("topic", topics.contributions, ("Read", "Write", "Describe")),
            IDEMPOTENT_WRITE,
            # Changelogs and the assignor topic are named `<app id>-...`; faust declares them at every start.
            Grant("topic", f"{worker_app_id}-", ("Read", "Write", "Describe", "Create"), pattern="prefix"),
            Grant("group", worker_app_id, ("Read", "Describe")),
        ],
        GATEWAY_USER: [
            *(Grant("topic", t, ("Write", "Describe")) for t in feed_topics),
            # It writes its own dead letters and reads the worker's back, with the receipts, for the publishers.
            Grant("topic", topics.dead_letter, ("Read", "Write", "Describe")),
            Grant("topic", topics.receipts, ("Read", "Describe")),
            Grant("group", f"{topics.prefix}-ingest-outcomes", ("Read", "Describe")),
            IDEMPOTENT_WRITE,
        ],
        ALERTS_USER: [
            Grant("topic", topics.rule_evaluations, ("Read", "Describe")),
            Grant("group", alerts_group_id, ("Read", "Describe")),
            Grant("topic", topics.alerts, ("Write", "Describe")),
            IDEMPOTENT_WRITE,
        ],
        REPORT_USER: [
            Grant("topic", topics.indicators, ("Read", "Describe")),
            Grant("topic", topics.alerts, ("Read", "Describe")),
        ],
    }
    clash = sorted(users.keys() & (processes.keys() | {ADMIN_USER}))
    if clash:
        raise ValueError(f"department ids clash with citywatch's own Kafka users: {clash}")
    users.update(processes)
    for name in users:
        if not KUBERNETES_NAME.match(name):
            raise ValueError(f"Kafka user {name!r} is not a valid user name (a Strimzi KafkaUser is named by it)")
    return users
