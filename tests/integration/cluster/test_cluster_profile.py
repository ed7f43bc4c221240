"""The cluster profile (`citywatch stack up --profile cluster`): three KRaft nodes, every client listener SASL_SSL with
SCRAM-SHA-512, authorization on, replication 3, min ISR 2; the users and ACLs of `services/kafka_grants.py`; and
citywatch's processes and tools on it, each as its own user. `pytest -m cluster` runs these alone.

The cluster starts once for this folder (conftest.py); each test isolates itself by topic prefix (deployment.py).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import (
    AuthorizationError,
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAuthorizationFailedError,
)

from services.kafka_grants import ADMIN_USER, ALERTS_USER, GATEWAY_USER, REPORT_USER, WORKER_USER
from tests.conftest import Isolation
from tests.integration.cli_runs import run_citywatch
from tests.integration.cluster.deployment import Deployment
from tests.integration.conftest import rule_evaluation
from tests.integration.kafka_reads import read_feed_until, read_until, read_values_until
from tests.integration.test_broker_outage import post_until_accepted
from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import CLUSTER, StackConfig


def test_every_listener_wants_scram_over_tls(cluster: KafkaCluster) -> None:
    bootstrap = CLUSTER.kafka_bootstrap
    with pytest.raises(KafkaError):  # plaintext: the TLS listener never answers it
        KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, api_version_auto_timeout_ms=3000)
    wrong = {**cluster.client_kwargs(WORKER_USER), "sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaError):
        KafkaAdminClient(**wrong, request_timeout_ms=3000, api_version_auto_timeout_ms=3000)
    untrusted = {**cluster.client_kwargs(WORKER_USER), "ssl_context": ssl.create_default_context()}
    with pytest.raises(KafkaError):  # the system's CAs did not sign the brokers' certificate
        KafkaAdminClient(**untrusted, request_timeout_ms=3000, api_version_auto_timeout_ms=3000)
    admin = KafkaAdminClient(**cluster.client_kwargs(ADMIN_USER))
    try:
        assert {b["broker_id"] for b in admin.describe_cluster()["brokers"]} == {1, 2, 3}
    finally:
        admin.close()


def test_every_topic_has_three_replicas_and_each_user_only_its_grants(deployment: Deployment) -> None:
    admin = KafkaAdminClient(**deployment.cluster.client_kwargs(ADMIN_USER))
    try:
        ours = [t for t in admin.list_topics() if t.startswith(f"{deployment.id}.") or t.startswith(deployment.app_id)]
        described = admin.describe_topics(ours)
    finally:
        admin.close()
    assert len(ours) >= 8  # feeds of each department, indicators, evaluations, alerts, dead letters, ... changelogs
    replicas = {t["name"]: {len(p["replica_nodes"]) for p in t["partitions"]} for t in described}
    assert replicas == {name: {3} for name in ours}

    topics = deployment.topics
    alerts = deployment.producer(ALERTS_USER)
    # A node may hear of a new ACL a moment after the others told the harness they had it: allowed writes are retried
    # for a few seconds, refused ones need no wait.
    settle = time.monotonic() + 20
    _acknowledged(alerts, topics.alerts, b"k", b"{}", settle)
    with pytest.raises(TopicAuthorizationFailedError):
        alerts.send(topics.indicators, b"{}").get(timeout=20)
    alerts.close()
    transport = deployment.producer("transport")
    _acknowledged(transport, topics.feed("bus", "transport"), b"k", b"{}", settle)
    with pytest.raises(TopicAuthorizationFailedError):  # another department's feed
        transport.send(topics.feed("air", "environment"), b"{}").get(timeout=20)
    transport.close()
    assert read_values_until(deployment.cluster.client_kwargs(REPORT_USER), topics.alerts, _at_least(1)) == [b"{}"]
    report = deployment.producer(REPORT_USER)
    with pytest.raises(KafkaError, match="AuthorizationFailed"):  # the report reads, never writes (not even a
        report.send(topics.alerts, b"{}").get(timeout=20)  # producer id: it has WRITE on no topic)
    report.close()


def test_acks_all_outlives_one_lost_node_and_refuses_with_two_lost(deployment: Deployment) -> None:
    cluster, topic = deployment.cluster, deployment.topics.indicators
    producer = deployment.producer(WORKER_USER, retries=0, request_timeout_ms=8000)
    try:
        deadline = time.monotonic() + 20  # every broker's authorizer hears of the new ACLs a moment apart
        for n in range(20):
            _acknowledged(producer, topic, f"k{n}".encode(), f"before {n}".encode(), deadline)
        cluster.kill(1)
        deadline = time.monotonic() + 60  # the others elect leaders for node 1's partitions, 2 stay in sync
        for n in range(20):
            _acknowledged(producer, topic, f"k{n}".encode(), f"one lost {n}".encode(), deadline)
        cluster.kill(2)
        # One replica left, below min ISR 2: acks=all is refused (NOT_ENOUGH_REPLICAS) or, with two of the three
        # controllers gone too, never answered; either way nothing is acknowledged that only one node holds.
        with pytest.raises(KafkaError) as refused:
            for n in range(20):
                producer.send(topic, key=f"k{n}".encode(), value=b"two lost").get(timeout=30)
        assert not isinstance(refused.value, AuthorizationError | SaslAuthenticationFailedError)
    finally:
        with contextlib.suppress(KafkaError):
            producer.close(timeout=5)
        cluster.revive(1)
        cluster.revive(2)
        cluster.wait_healthy()
    _wait_for_full_isr(cluster, topic)
    values = set(read_values_until(cluster.client_kwargs(REPORT_USER), topic, _at_least(40)))
    # Every acknowledged record is there (a send retried after an error may be there twice: at least once).
    assert {f"{phase} {n}".encode() for phase in ("before", "one lost") for n in range(20)} <= values
    after = deployment.producer(WORKER_USER)
    after.send(topic, b"back").get(timeout=30)  # all three in sync again: acks=all answers
    after.close()


def test_topics_ensure_and_the_worker_run_over_scram_with_their_own_users(
    deployment: Deployment, tmp_path: Path
) -> None:
    """`citywatch topics ensure` as the admin user; the faust worker as `citywatch-worker` with only its ACLs (its
    changelog and assignor topics are made ahead, with 3 replicas); a department's readings in, indicators out."""
    cluster = deployment.cluster
    env = {
        **cluster.client_env(ADMIN_USER),
        "CITYWATCH_TOPIC_PREFIX": deployment.id,
        "CITYWATCH_WORKER_APP_ID": deployment.app_id,
        "CITYWATCH_TOPIC_PARTITIONS": "3",
    }
    done = run_citywatch(["topics", "ensure", "--profile", "cluster"], {**os.environ, **env}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "created 0 topics" in done.stdout  # ensure_deployment made them all, with the same names

    iso = Isolation(CLUSTER, tmp_path)
    iso.id = deployment.id
    try:
        iso.start(
            "worker",
            "CITYWATCH_WORKER_WEB_PORT",
            **cluster.client_env(WORKER_USER),
            CITYWATCH_WORKER_APP_ID=deployment.app_id,
            CITYWATCH_TOPIC_PARTITIONS="3",
        )
        environment = deployment.producer("environment")
        hour = time.time() // 3600 * 3600 - 7200
        for n in range(3):
            reading = {"station": "wj-songling", "observed_at": _iso(hour + 3600 * n), "pm25": 30 + n}
            environment.send(
                deployment.topics.feed("air", "environment"), key=b"wj-songling", value=json.dumps(reading).encode()
            )
        environment.flush(timeout=20)
        environment.close()
        report = cluster.client_kwargs(REPORT_USER)
        values = read_values_until(report, deployment.topics.indicators, _at_least(1), timeout_s=90)
        assert values, "the worker published no indicator over SASL_SSL"
    finally:
        iso.close()
    # The tools that read topics connect as `citywatch-report`, which may only read indicators and alerts.
    as_report = {**os.environ, **cluster.client_env(REPORT_USER), "CITYWATCH_TOPIC_PREFIX": deployment.id}
    wanted = {"tail": ("kind", "indicator-update"), "indicators": ("site", "wj-songling")}
    for command in (["tail", "indicators"], ["indicators", "tail", "--site", "wj-songling"]):
        shown = run_citywatch([*command, "--max", "1", "--idle-s", "20"], as_report, timeout=120)
        assert shown.returncode == 0, shown.stderr[-2000:]
        field, value = wanted[command[0]]  # a whole update message, or one record of the site asked for
        assert json.loads(shown.stdout.splitlines()[0])[field] == value, shown.stdout[:500]


def test_the_gateway_answers_202_only_for_what_two_replicas_hold(
    deployment: Deployment, stack: StackConfig, tmp_path: Path
) -> None:
    """The gateway as `citywatch-ingest` over SASL_SSL: with one node lost it still accepts (after the leaders
    move), with two lost it answers 503 + Retry-After and claims nothing, and once they are back every reading it
    answered 202 for is on the feed topic."""
    cluster = deployment.cluster
    iso = Isolation(stack, tmp_path)  # the test stack's Redis (keys, rate limits, dedup); the cluster's Kafka
    iso.id = deployment.id
    try:
        ingest = iso.start(
            "ingest",
            "CITYWATCH_INGEST_PORT",
            health_path="/healthz",
            **cluster.client_env(GATEWAY_USER),
            CITYWATCH_KAFKA_ACK_TIMEOUT_S="8",
        )
        url = f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch"
        auth = {"Authorization": f"Bearer {iso.api_key('environment')}"}

        def day(n: int) -> list[dict[str, object]]:
            return [
                {"station": "wj-lili", "observed_at": f"2025-05-{n:02d}T{h:02d}:00:00+08:00", "pm25": 10 + h}
                for h in range(24)
            ]

        assert post_until_accepted(url, day(1), auth, limit_s=30)[-1] == 202
        cluster.kill(1)
        post_until_accepted(url, day(2), auth, limit_s=90)  # 503s while node 1's partitions get new leaders
        cluster.kill(2)
        refused = httpx.post(url, json=day(3), headers=auth, timeout=60)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "nothing from this request was accepted" in refused.json()["detail"]
        cluster.revive(1)
        cluster.revive(2)
        cluster.wait_healthy()
        post_until_accepted(url, day(4), auth, limit_s=120)
        topic = deployment.topics.feed("air", "environment")
        records = read_feed_until(
            cluster.client_kwargs(ADMIN_USER), topic, lambda rs: len({r["observed_at"] for r in rs}) >= 72, 60
        )
        accepted = {r["observed_at"] for r in records if not r["observed_at"].startswith("2025-05-03")}
        assert accepted == {r["observed_at"] for n in (1, 2, 4) for r in day(n)}
    finally:
        iso.close()


def test_the_alert_service_runs_over_sasl_ssl_as_its_own_user(
    deployment: Deployment, stack: StackConfig, tmp_path: Path
) -> None:
    """`citywatch-alerts` reads rule evaluations in its group and writes the alerts topic, and nothing else."""
    cluster = deployment.cluster
    iso = Isolation(stack, tmp_path)  # the test stack's Redis holds the alert lifecycle
    iso.id = deployment.id
    try:
        iso.start(
            "alerts",
            "CITYWATCH_ALERTS_PORT",
            health_path="/healthz",
            **cluster.client_env(ALERTS_USER),
            CITYWATCH_ALERTS_GROUP_ID=f"{deployment.id}-alerts",
            CITYWATCH_ALERTMANAGER_URL="",
        )
        worker = deployment.producer(WORKER_USER)  # who writes rule evaluations
        evaluation = rule_evaluation(
            "cluster-test-rule", "wj-lili", value=99.0, indicator="air.pm25.1h", annotations={}
        )
        worker.send(deployment.topics.rule_evaluations, key=b"wj-lili", value=json.dumps(evaluation).encode()).get(30)
        worker.close()
        alerts = read_until(cluster.client_kwargs(REPORT_USER), deployment.topics.alerts, lambda rs: len(rs) >= 1, 90)
        assert [(a["site"], a["status"]) for a in alerts] == [("wj-lili", "firing")]
    finally:
        iso.close()


def test_a_department_publishes_over_sasl_ssl_with_the_clusters_ca(deployment: Deployment, tmp_path: Path) -> None:
    """`citywatch publish` as the department's own SCRAM user, over TLS with the cluster's CA: the records are on its
    feed topic; the same command without the CA cannot connect (the listener wants TLS)."""
    cluster = deployment.cluster
    file = tmp_path / "readings.jsonl"
    hour = time.time() // 3600 * 3600 - 3 * 3600
    rows = [{"station": "wj-lili", "observed_at": _iso(hour + 3600 * n), "pm25": 20 + n} for n in range(3)]
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    command = [
        "publish", str(file), "--feed", "air", "--department", "environment",
        "--bootstrap", CLUSTER.kafka_bootstrap, "--password-env", "DEPARTMENT_PASSWORD", "--no-follow", "--timeout", "20",
    ]  # fmt: skip
    env = {
        **os.environ,
        "CITYWATCH_TOPIC_PREFIX": deployment.id,
        "DEPARTMENT_PASSWORD": cluster.password("environment"),
    }
    run = functools.partial(run_citywatch, env=env, timeout=120)
    published = run([*command, "--ca-file", str(cluster.tls.ca_pem)])
    assert published.returncode == 0, published.stdout[-1500:] + published.stderr[-1500:]
    records = read_feed_until(
        cluster.client_kwargs(ADMIN_USER), deployment.topics.feed("air", "environment"), lambda rs: len(rs) >= 3, 60
    )
    assert [r["pm25"] for r in records] == [20, 21, 22]
    assert run(command).returncode == 3  # no CA: plaintext SASL against a TLS listener is refused


def _acknowledged(producer: KafkaProducer, topic: str, key: bytes, value: bytes, deadline: float) -> None:
    """Send until the cluster acknowledges (a send may be refused while leaders move), or fail at the deadline."""
    while True:
        try:
            producer.send(topic, key=key, value=value).get(timeout=20)
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_for_full_isr(cluster: KafkaCluster, topic: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        admin = KafkaAdminClient(**cluster.client_kwargs(ADMIN_USER))
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
        if all(len(p["isr_nodes"]) == 3 for p in described["partitions"]):
            return
        assert time.monotonic() < deadline, f"{topic}: the revived nodes did not rejoin the ISR: {described}"
        time.sleep(1)


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch_s))


def _at_least(count: int) -> Callable[[list[bytes]], bool]:
    return lambda values: len(values) >= count
