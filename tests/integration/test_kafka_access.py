"""Departments publishing straight to Kafka: the broker itself refuses what a department may not write.

Two departments (environment → air, transport → bus) get SCRAM users and ACLs under the test's prefix; their producers
connect to the DEPARTMENTS (SASL/SCRAM) listener. SCRAM users are cluster-wide, so their names carry the test's id.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import SaslAuthenticationFailed
from aiokafka.errors import TopicAuthorizationFailedError as AioTopicAuthorizationFailedError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError

from citywatch.topics import Topics
from services.kafka_security import (
    department_client_kwargs,
    department_credentials,
    ensure_department_access,
    revoke_department,
)
from tests.conftest import Isolation

GRANTS = {"environment": ["air"], "transport": ["bus"]}
# Refusals must fail fast: the broker answers at once, only the client's retry loop would wait.
FAST = {"request_timeout_ms": 3000, "max_block_ms": 3000, "bootstrap_timeout_ms": 2000}


@dataclass
class Access:
    isolation: Isolation
    topics: Topics
    passwords: dict[str, str]

    @property
    def user_prefix(self) -> str:
        return f"{self.isolation.id}-"

    def producer_config(self, department: str, password: str | None = None) -> dict[str, object]:
        sasl = department_client_kwargs(
            department, password or self.passwords[department], user_prefix=self.user_prefix
        )
        return {"bootstrap_servers": self.isolation.stack.departments_bootstrap, **sasl}

    def producer(self, department: str, password: str | None = None) -> KafkaProducer:
        return KafkaProducer(**self.producer_config(department, password), **FAST)

    def ensure(self, grants: dict[str, list[str]]) -> None:
        ensure_department_access(
            self.isolation.stack.kafka_bootstrap,
            self.topics,
            grants,
            self.passwords,
            user_prefix=self.user_prefix,
            partitions=1,
        )


@pytest.fixture
def access(isolation: Isolation) -> Iterator[Access]:
    result = Access(isolation, Topics(isolation.id), {d: secrets.token_urlsafe(18) for d in GRANTS})
    result.ensure(GRANTS)
    yield result
    for department in GRANTS:
        revoke_department(isolation.stack.kafka_bootstrap, result.topics, department, user_prefix=result.user_prefix)


def read_back(bootstrap: str, topic: str, value: bytes, timeout_s: float = 10.0) -> list[bytes]:
    """citywatch's own view (PLAINTEXT listener): the values on partition 0 of `topic`, until `value` shows up."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        seen: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while value not in seen and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(r.value for r in records)
        return seen
    finally:
        consumer.close()


def test_a_department_writes_its_own_feed_topic(access: Access) -> None:
    topic = access.topics.feed("air", "environment")
    value = f"reading-{uuid.uuid4().hex}".encode()
    producer = access.producer("environment")
    try:
        assert producer.config["enable_idempotence"]  # WRITE on the topic is enough for the idempotent producer
        metadata = producer.send(topic, key=b"wj-songling", value=value).get(timeout=10)
        producer.flush(timeout=10)
    finally:
        producer.close()
    assert metadata.topic == topic
    assert value in read_back(access.isolation.stack.kafka_bootstrap, topic, value)


def test_the_broker_refuses_another_departments_topic(access: Access) -> None:
    producer = access.producer("environment")
    try:
        with pytest.raises(TopicAuthorizationFailedError) as info:
            producer.send(access.topics.feed("bus", "transport"), value=b"not mine").get(timeout=10)
        assert access.topics.feed("bus", "transport") in str(info.value)
        # Nor a feed it was not granted (no auto-creation either), nor citywatch's internal topics.
        for topic in (access.topics.feed("water", "environment"), access.topics.alerts):
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(topic, value=b"not mine").get(timeout=10)
        # Refused while fetching metadata, nothing was produced: the same producer still writes its own topic.
        producer.send(access.topics.feed("air", "environment"), value=b"mine").get(timeout=10)
    finally:
        producer.close()


def test_ensure_is_idempotent_and_takes_away_a_feed(access: Access) -> None:
    access.ensure({"environment": ["air", "water"], "transport": ["bus"]})
    access.ensure({"environment": ["air", "water"], "transport": ["bus"]})  # again: nothing changes, nothing fails
    water = access.topics.feed("water", "environment")
    producer = access.producer("environment")
    try:
        producer.send(water, value=b"granted").get(timeout=10)
        access.ensure(GRANTS)  # water taken away again
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(water, value=b"revoked").get(timeout=10)
    finally:
        producer.close()
    # A refusal in a produce response leaves kafka-python's idempotent producer in a fatal state: a new one is needed.
    producer = access.producer("environment")
    try:
        producer.send(access.topics.feed("air", "environment"), value=b"still mine").get(timeout=10)
    finally:
        producer.close()


def test_a_wrong_password_fails_authentication(access: Access) -> None:
    started = time.monotonic()
    # kafka-python retries a failed bootstrap until its deadline, so what it raises is a timeout...
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        access.producer("environment", password="not-the-password")
    assert time.monotonic() - started < 10

    # ...while one connection shows the broker's answer itself (kafka-python logs it, but not reliably: it may see
    # the broker close the socket before it parses the refusal). aiokafka's connection raises it.
    async def login(password: str) -> None:
        sasl = department_client_kwargs("environment", password, user_prefix=access.user_prefix)
        conn = await create_conn("127.0.0.1", access.isolation.stack.departments_port, **sasl)
        conn.close()

    asyncio.run(login(access.passwords["environment"]))  # the right password logs in
    with pytest.raises(SaslAuthenticationFailed, match="invalid credentials with SASL mechanism SCRAM-SHA-512"):
        asyncio.run(login("not-the-password"))


def test_no_credentials_on_the_departments_listener_fails(access: Access, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="kafka")
    # A client without SASL sends Metadata where the broker expects a SASL handshake: the broker drops the connection.
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaProducer(bootstrap_servers=access.isolation.stack.departments_bootstrap, **FAST)
    assert any("socket disconnected" in r.getMessage() for r in caplog.records)
    assert not any("SaslAuthenticationFailedError" in r.getMessage() for r in caplog.records)


def test_aiokafka_producer_with_scram(access: Access) -> None:
    """The gateway and the faust worker use aiokafka: the same settings work there."""
    own = access.topics.feed("bus", "transport")
    value = f"boardings-{uuid.uuid4().hex}".encode()

    async def publish() -> None:
        producer = AIOKafkaProducer(
            **access.producer_config("transport"),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=5000,
        )
        await producer.start()
        try:
            metadata = await producer.send_and_wait(own, value, key=b"route-1")
            assert metadata.topic == own
            with pytest.raises(AioTopicAuthorizationFailedError):
                await producer.send_and_wait(access.topics.feed("air", "environment"), b"not mine")
        finally:
            await producer.stop()

    asyncio.run(asyncio.wait_for(publish(), timeout=20))
    assert value in read_back(access.isolation.stack.kafka_bootstrap, own, value)


def test_local_passwords_are_generated_once_and_private(tmp_path: Path) -> None:
    first = department_credentials(tmp_path, ["environment", "transport"])
    assert set(first) == {"environment", "transport"} and len(set(first.values())) == 2
    again = department_credentials(tmp_path, ["environment", "water"])
    assert again["environment"] == first["environment"] and again["transport"] == first["transport"]
    assert department_credentials(tmp_path) == again
    assert (tmp_path / "kafka-credentials.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        department_credentials(tmp_path, ["Not A Department"])
