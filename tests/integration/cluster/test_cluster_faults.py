"""Faults a cluster has, during a replay through the gateway into three workers (issue 20).

Over 50,000 readings of every feed go through the gateway (as `citywatch-ingest`, acks=all, min ISR 2) into three
workers of one group (each as `citywatch-worker`), with the alert service (as `citywatch-alerts`) and a webhook
receiver behind them. While the readings arrive, the node leading the most feed partitions is SIGKILLed and started
again 30 s later, then one worker is SIGKILLed and started again (as Kubernetes would).

Afterwards every indicator bucket and table key equals an uninterrupted single-worker run over the same readings
(nothing lost, nothing counted twice); the gateway answered 202 for each reading exactly once (a 503 claims nothing,
and a retried batch is not counted twice); and the alert service published each transition once and called the
webhook once per notifying transition. Then `citywatch report` (as `citywatch-report`) reads the run's indicators and
alerts over SASL_SSL, and its headline figures equal a recomputation from the topic.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from citywatch.schemas.indicator import records_in
from services.kafka_grants import ADMIN_USER, ALERTS_USER, GATEWAY_USER, REPORT_USER, WORKER_USER
from tests.conftest import Isolation
from tests.integration.cli_runs import run_citywatch
from tests.integration.cluster.deployment import Deployment
from tests.integration.webhook_receiver import WebhookReceiver
from tests.integration.worker_runs import (
    SHANGHAI,
    START,
    Input,
    Run,
    assert_each_transition_once,
    assert_same,
    has_partitions,
    read_all,
    reference_run,
    results,
    scenario_inputs,
    source_topics,
    wait_for,
)
from tests.unit.report.recompute import assert_headlines_match, current, headlines
from tools.devstack.cluster import KafkaCluster
from tools.devstack.config import StackConfig
from tools.report.figures import Period

# The reference run (setup, on the test stack's single broker) and the replay on the cluster take a few minutes
# each on 2 cores; every wait inside is bounded and says what it waited for.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(1500)]

REPLAY_HOURS = 1000  # every feed of the sample registry: 50,418 readings, about 42 simulated days
PARTITIONS = 3
WORKERS = 3
PACE = 500  # readings/s the department side sends at: about what three workers count on this box
BROKER_KILL_AT = 0.25  # share of the readings accepted when the leading node is killed
BROKER_DOWN_S = 30.0
WORKER_KILL_AT = 0.65
WORKER_DOWN_S = 5.0  # Kubernetes restarts a killed container after a short back-off
REPORT_PERIOD = Period(START.date(), (START + timedelta(hours=REPLAY_HOURS)).date() - timedelta(days=1))


@dataclass
class GatewayReplay:
    """The readings posted through the gateway in emission order: one request per simulated day, feed and department
    (at most the gateway's batch limit), at `pace` readings/s, honouring Retry-After after a 503 as a well-behaved
    publisher does. Runs in a thread; counts what the gateway answered."""

    gateway: str
    keys: dict[str, str]
    inputs: list[Input]
    pace: float
    batch_limit: int = 1000
    accepted: int = 0
    duplicates: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def requests(self) -> Iterator[tuple[str, str, list[Input]]]:
        days: dict[date, dict[tuple[str, str], list[Input]]] = {}
        for item in self.inputs:
            days.setdefault(item.at.astimezone(SHANGHAI).date(), {}).setdefault(
                (item.feed, item.department), []
            ).append(item)
        for lanes in days.values():
            for (feed, department), items in lanes.items():
                for start in range(0, len(items), self.batch_limit):
                    yield feed, department, items[start : start + self.batch_limit]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gateway-replay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started, sent = time.monotonic(), 0
        try:
            with httpx.Client(timeout=60) as client:
                for feed, department, items in self.requests():
                    self._post(client, feed, department, [i.record for i in items])
                    sent += len(items)
                    ahead = sent / self.pace - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except BaseException as exc:  # the test thread reports it
            self.error = exc

    def _post(self, client: httpx.Client, feed: str, department: str, records: list[object]) -> None:
        url = f"{self.gateway}/v1/feeds/{feed}/readings/batch"
        headers = {"Authorization": f"Bearer {self.keys[department]}"}
        deadline = time.monotonic() + 180
        while True:
            assert time.monotonic() < deadline, f"a {feed} batch of {department} was not accepted within 180 s"
            try:
                response = client.post(url, json=records, headers=headers)
            except httpx.TimeoutException:
                self.statuses[0] += 1  # no answer: sent again; the gateway's dedup answers for what it had accepted
                continue
            self.statuses[response.status_code] += 1
            if response.status_code == 202:
                body = response.json()
                self.accepted += body["accepted"]
                self.duplicates += body["duplicates"]
                return
            assert response.status_code == 503, f"{feed} batch of {department}: {response.status_code} {response.text}"
            time.sleep(min(float(response.headers["Retry-After"]), 2.0))

    @property
    def answered(self) -> int:
        return self.accepted + self.duplicates

    def running(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the gateway replay failed: {self.error!r}") from self.error
        return self._thread is not None and self._thread.is_alive()

    def wait_for_share(self, share: float, timeout_s: float) -> None:
        wait_for(
            lambda: not self.running() or self.answered >= share * len(self.inputs),
            timeout_s,
            f"the gateway to accept {share:.0%} of the readings",
        )


@pytest.fixture(scope="module")
def replay_inputs() -> list[Input]:
    return scenario_inputs(REPLAY_HOURS)


@pytest.fixture(scope="module")
def replay_reference(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory, replay_inputs: list[Input]) -> Run:
    """One worker over the same readings on the test stack's single broker, never interrupted."""
    return reference_run(stack, tmp_path_factory.mktemp("cluster-reference"), replay_inputs)


def test_a_lost_broker_and_a_lost_worker_during_a_gateway_replay_lose_and_duplicate_nothing(
    cluster: KafkaCluster,
    stack: StackConfig,
    tmp_path: Path,
    replay_inputs: list[Input],
    replay_reference: Run,
    webhook: WebhookReceiver,
) -> None:
    assert len(replay_inputs) >= 50_000
    deployment = Deployment(cluster, PARTITIONS)
    topics, kafka = deployment.topics, cluster.client_kwargs(ADMIN_USER)
    iso = Isolation(stack, tmp_path)  # the test stack's Redis (keys, dedup, alert lifecycle); the cluster's Kafka
    iso.id, iso.partitions = deployment.id, PARTITIONS
    try:
        workers = [
            iso.start(
                "worker",
                "CITYWATCH_WORKER_WEB_PORT",
                **cluster.client_env(WORKER_USER),
                CITYWATCH_WORKER_DATA_DIR=str(tmp_path / f"worker-{n}"),
            )
            for n in range(WORKERS)
        ]
        wait_for(lambda: all(has_partitions(w) for w in workers), 120, "every worker to get partitions")
        alerts = iso.start(
            "alerts",
            "CITYWATCH_ALERTS_PORT",
            health_path="/healthz",
            **cluster.client_env(ALERTS_USER),
            CITYWATCH_WEBHOOK_URLS=webhook.url,
            CITYWATCH_ALERTMANAGER_URL="",  # the topic and the webhook are what is counted
        )
        ingest = iso.start(
            "ingest",
            "CITYWATCH_INGEST_PORT",
            health_path="/healthz",
            **cluster.client_env(GATEWAY_USER),
            CITYWATCH_KAFKA_ACK_TIMEOUT_S="8",
        )
        departments = sorted({i.department for i in replay_inputs})
        replay = GatewayReplay(
            f"http://127.0.0.1:{ingest.metrics_port}", {d: iso.api_key(d) for d in departments}, replay_inputs, PACE
        )
        started = time.monotonic()
        replay.start()

        replay.wait_for_share(BROKER_KILL_AT, 300)
        feed_topics = source_topics(topics, replay_inputs)[:-1]
        leaders = cluster.leaders(feed_topics)
        victim, led = Counter(leaders.values()).most_common(1)[0]
        cluster.kill(victim)
        killed_at = time.monotonic()
        wait_for(lambda: _led_by_live_nodes(cluster, feed_topics, victim), BROKER_DOWN_S, "new leaders")
        election_s = time.monotonic() - killed_at
        time.sleep(max(0.0, killed_at + BROKER_DOWN_S - time.monotonic()))
        cluster.revive(victim)
        cluster.wait_healthy()

        replay.wait_for_share(WORKER_KILL_AT, 300)
        lost_worker = workers[1]
        assert has_partitions(lost_worker), "the worker to be killed has no partitions: its loss would test nothing"
        lost_worker.kill()
        time.sleep(WORKER_DOWN_S)
        lost_worker.start(wait_s=90)

        wait_for(lambda: not replay.running(), 600, "the gateway replay to finish")
        posted_in = time.monotonic() - started
        assert replay.answered == len(replay_inputs), (
            f"the gateway answered 202 for {replay.answered} of {len(replay_inputs)} readings"
        )
        run = results(iso, topics, replay_inputs, kafka, timeout_s=600, supervised=True)
        replayed_in = time.monotonic() - started
        assert_same(run, replay_reference)
        counts = assert_each_transition_once(kafka, topics, alerts, deployment.alerts_group_id, webhook)
    finally:
        iso.close()
    report = _report_as_its_own_user(cluster, deployment, tmp_path / "report")
    print(
        f"\n{len(replay_inputs):,} readings through the gateway into {WORKERS} workers ({PARTITIONS} partitions per "
        f"feed topic): node {victim} (leading {led} of {len(leaders)} feed partitions) SIGKILLed at "
        f"{BROKER_KILL_AT:.0%} (new leaders after {election_s:.1f} s) and back after {BROKER_DOWN_S:.0f} s, a worker "
        f"SIGKILLed at {WORKER_KILL_AT:.0%}; "
        f"gateway answers {dict(replay.statuses)} (0: no answer), {replay.duplicates} readings answered as "
        f"duplicates of an earlier try; posted in {posted_in:.0f} s, counted in {replayed_in:.0f} s; "
        f"{len(run.indicators):,} indicator buckets and {len(run.table):,} table keys equal the single worker's; "
        f"{counts.evaluations:,} rule evaluations, {counts.transitions} alert transitions, "
        f"{counts.webhook_calls} webhook calls, none twice; the report as citywatch-report: {report}"
    )


def _report_as_its_own_user(cluster: KafkaCluster, deployment: Deployment, out: Path) -> dict[str, str]:
    """`citywatch report` over SASL_SSL as `citywatch-report` (it may only read indicators and alerts) for the
    replay's whole days: its headline figures equal a recomputation from the topic as the admin reads it."""
    env = {**os.environ, **cluster.client_env(REPORT_USER), "CITYWATCH_TOPIC_PREFIX": deployment.id}
    args = ["--from", str(REPORT_PERIOD.start), "--to", str(REPORT_PERIOD.end), "--out", str(out)]
    done = run_citywatch(["report", *args, "--alerts-topic", deployment.topics.alerts], env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = headlines(out / "index.html")
    indicators = read_all(cluster.client_kwargs(ADMIN_USER), deployment.topics.indicators)
    records = [record for _, value in indicators if value for record in records_in(value)]
    assert_headlines_match(shown, current(records, REPORT_PERIOD), REPORT_PERIOD)
    return shown


def _led_by_live_nodes(cluster: KafkaCluster, topic_names: list[str], lost: int) -> bool:
    leaders = cluster.leaders(topic_names, avoid=lost)
    return bool(leaders) and all(leader not in (lost, -1) for leader in leaders.values())
