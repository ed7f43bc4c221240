"""citywatch's own processes authenticate to Kafka with SCRAM when told to: the alert service, given only its
SASL settings and a password file, consumes and publishes through the broker's SASL listener under ACLs that
allow exactly its topics and group, and a wrong password keeps it from starting."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError

from services.kafka_security import SCRAM_ITERATIONS
from tests.conftest import Isolation
from tests.integration.cli_runs import run_citywatch
from tests.integration.conftest import rule_evaluation
from tests.integration.kafka_reads import read_until


def _allow(user: str, kind: ResourceType, name: str, operation: ACLOperation) -> ACL:
    return ACL(
        principal=f"User:{user}",
        host="*",
        operation=operation,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(kind, name, ACLResourcePatternType.LITERAL),
    )


def _filter(user: str, acl: ACL) -> ACLFilter:
    return ACLFilter(
        principal=f"User:{user}",
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=acl.resource_pattern,
    )


@pytest.fixture
def alerts_user(isolation: Isolation) -> Iterator[tuple[str, str]]:
    """A SCRAM user for the alert service with the ACLs its Strimzi KafkaUser has, and its password."""
    topics = isolation.ensure_topics()
    user, password = f"{isolation.id}-alerts", secrets.token_urlsafe(16)
    group = f"{isolation.id}-alerts"
    acls = [
        _allow(user, ResourceType.TOPIC, topics.rule_evaluations, ACLOperation.READ),
        _allow(user, ResourceType.TOPIC, topics.rule_evaluations, ACLOperation.DESCRIBE),
        _allow(user, ResourceType.GROUP, group, ACLOperation.READ),
        _allow(user, ResourceType.TOPIC, topics.alerts, ACLOperation.WRITE),
        _allow(user, ResourceType.TOPIC, topics.alerts, ACLOperation.DESCRIBE),
        # aiokafka's idempotent producer asks for a producer id with a request version that still checks this.
        _allow(user, ResourceType.CLUSTER, "kafka-cluster", ACLOperation.IDEMPOTENT_WRITE),
    ]
    admin = KafkaAdminClient(bootstrap_servers=isolation.stack.kafka_bootstrap)
    upsert = UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password, iterations=SCRAM_ITERATIONS)
    assert not any(admin.alter_user_scram_credentials([upsert]).values())
    admin.create_acls(acls)
    _wait_until_authenticated(isolation.stack.departments_bootstrap, user, password)
    time.sleep(1)  # ACLs reach the authorizer through the metadata log, like the credentials
    try:
        yield user, password
    finally:
        admin.delete_acls([_filter(user, a) for a in acls])
        admin.alter_user_scram_credentials([UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)])
        admin.close()


def _wait_until_authenticated(bootstrap: str, user: str, password: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            KafkaProducer(
                bootstrap_servers=bootstrap,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=user,
                sasl_plain_password=password,
                request_timeout_ms=3000,
            ).close()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _evaluation(site: str) -> bytes:
    evaluation = rule_evaluation("sasl-test-rule", site, value=99.0, indicator="air.pm25.1h", annotations={})
    return json.dumps(evaluation).encode()


def test_alert_service_runs_over_scram_with_only_its_acls(
    isolation: Isolation, alerts_user: tuple[str, str], tmp_path: Path
) -> None:
    user, password = alerts_user
    password_file = tmp_path / "password"
    password_file.write_text(password)
    sasl = {
        "CITYWATCH_KAFKA_BOOTSTRAP": isolation.stack.departments_bootstrap,
        "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CITYWATCH_KAFKA_SASL_USERNAME": user,
        "CITYWATCH_KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "CITYWATCH_ALERTMANAGER_URL": "",
    }
    isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", **sasl)
    topics = isolation.ensure_topics()
    producer = KafkaProducer(bootstrap_servers=isolation.stack.kafka_bootstrap)
    producer.send(topics.rule_evaluations, key=b"wj-lili", value=_evaluation("wj-lili"))
    producer.flush()
    producer.close()
    records = read_until(isolation.stack.kafka_bootstrap, topics.alerts, lambda rs: len(rs) >= 1)
    assert [(r["site"], r["status"]) for r in records] == [("wj-lili", "firing")]


def test_a_wrong_password_stops_the_alert_service_with_an_authentication_error(
    isolation: Isolation, alerts_user: tuple[str, str], tmp_path: Path
) -> None:
    user, _ = alerts_user
    password_file = tmp_path / "password"
    password_file.write_text("not-the-password")
    env = {
        **os.environ,
        **isolation.env,
        "CITYWATCH_KAFKA_BOOTSTRAP": isolation.stack.departments_bootstrap,
        "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CITYWATCH_KAFKA_SASL_USERNAME": user,
        "CITYWATCH_KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "CITYWATCH_ALERTS_PORT": "0",
    }
    result = run_citywatch(["alerts"], env, timeout=90)
    assert result.returncode != 0
    assert "authentication" in (result.stdout + result.stderr).lower()
