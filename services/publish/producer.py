"""The Kafka half of `citywatch publish`: produce validated records as a department, wait for every acknowledgement.

kafka-python, SASL/SCRAM-SHA-512 on the broker's DEPARTMENTS listener (`department_client_kwargs`), acks=all with
idempotence. The broker decides what the department may write (docs/kafka-security.md): a refusal is raised as
`BrokerRefused` with the topic and what to do about it, never retried into a long timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import AuthorizationError, KafkaError, KafkaTimeoutError

from citywatch.schemas.feed_record import FeedRecord
from services.kafka_grants import scram_user
from services.kafka_security import department_client_kwargs

log = logging.getLogger("citywatch.publish")


class BrokerRefused(RuntimeError):
    """Kafka refused (or never answered) the department's producer; nothing more was published.

    `acknowledged` records were acknowledged before that (they are on the topic; a re-run republishes them with the
    same event ids, which downstream deduplicates).
    """

    def __init__(self, message: str, *, topic: str, acknowledged: int = 0) -> None:
        super().__init__(message)
        self.topic = topic
        self.acknowledged = acknowledged


@dataclass(frozen=True)
class Target:
    """Where and as whom to publish."""

    bootstrap: str
    department: str
    password: str
    topic: str
    feed: str
    user_prefix: str = ""
    timeout_s: float = 15.0
    ca_file: str | None = None  # the cluster's CA certificate: TLS (SASL_SSL); none: the local SASL_PLAINTEXT listener

    @property
    def user(self) -> str:
        return scram_user(self.department, self.user_prefix)


def producer_config(target: Target) -> dict[str, Any]:
    timeout_ms = int(target.timeout_s * 1000)
    return {
        "bootstrap_servers": target.bootstrap,
        **department_client_kwargs(
            target.department, target.password, user_prefix=target.user_prefix, ca_file=target.ca_file
        ),
        "client_id": f"citywatch-publish-{target.department}",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # Fail fast: a refusal comes back at once; only a broker that never answers waits this long.
        "bootstrap_timeout_ms": timeout_ms,
        "max_block_ms": timeout_ms,
        "request_timeout_ms": timeout_ms,
        "delivery_timeout_ms": max(timeout_ms * 2, 30_000),
        "allow_auto_create_topics": False,
    }


def publish(
    target: Target,
    records: Sequence[FeedRecord],
    on_ack: Callable[[int], None] = lambda n: None,
    headers: list[tuple[str, bytes]] | None = None,
) -> int:
    """Produce every record (key: its site id, value: its JSON, with `headers`: its receipt, its lane) and return
    once Kafka acknowledged all of them.

    `on_ack(n)` is called as acknowledgements arrive (from the producer's I/O thread). Raises BrokerRefused.
    """
    if not records:
        return 0
    try:
        producer = KafkaProducer(**producer_config(target))
    except (KafkaError, OSError) as exc:  # kafka-python reports a failed SASL handshake as a bootstrap timeout
        raise BrokerRefused(
            f"could not connect to Kafka at {target.bootstrap} as SCRAM user {target.user!r} ({exc}): the password "
            "may be wrong (its log says SaslAuthenticationFailed), the user may not exist, or the broker is down",
            topic=target.topic,
        ) from exc
    acknowledged = 0
    try:
        _check_topic(producer, target)
        futures = []
        for record in records:
            future = producer.send(
                target.topic, key=record.site_id.encode(), value=record.model_dump_json().encode(), headers=headers
            )
            future.add_callback(lambda _metadata: on_ack(1))
            futures.append(future)
        producer.flush(timeout=target.timeout_s * 4)
        for future in futures:
            future.get(timeout=target.timeout_s)  # raises the broker's error for this record, if any
            acknowledged += 1
        return acknowledged
    except AuthorizationError as exc:  # TopicAuthorizationFailedError, or a refused idempotent-producer id
        raise _refused(target, exc, acknowledged) from exc
    except KafkaError as exc:
        raise BrokerRefused(
            f"Kafka did not acknowledge every record on {target.topic} ({exc!r}); {acknowledged} of "
            f"{len(records)} were acknowledged before that — re-run to publish the rest (event ids make it safe)",
            topic=target.topic,
            acknowledged=acknowledged,
        ) from exc
    finally:
        producer.close(timeout=5)


def _check_topic(producer: KafkaProducer, target: Target) -> None:
    """Ask for the topic's partitions first: an unauthorised or missing topic is refused before anything is sent."""
    try:
        partitions = producer.partitions_for(target.topic)
    except AuthorizationError as exc:
        raise _refused(target, exc, 0) from exc
    except KafkaTimeoutError as exc:
        raise BrokerRefused(
            f"topic {target.topic} is not available to {target.user!r} ({exc}); it may not exist — an admin creates "
            f"it with `citywatch topics ensure` or `citywatch kafka-access grant --department {target.department} "
            f"--feed {target.feed}`",
            topic=target.topic,
        ) from exc
    if not partitions:
        raise BrokerRefused(f"topic {target.topic} has no partitions the producer can see", topic=target.topic)


def _refused(target: Target, exc: KafkaError, acknowledged: int) -> BrokerRefused:
    return BrokerRefused(
        f"the broker refused to let {target.user!r} write topic {target.topic} ({type(exc).__name__}): "
        f"department {target.department!r} may lack an ACL for it; an admin can grant it with "
        f"`citywatch kafka-access grant --department {target.department} --feed {target.feed}`",
        topic=target.topic,
        acknowledged=acknowledged,
    )
