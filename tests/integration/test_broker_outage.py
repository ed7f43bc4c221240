"""The gateway while its Kafka is down: 503 with Retry-After, nothing reported accepted that Kafka did not
acknowledge, and a retrying client ends with exact counts once the broker is back.

The test runs its own broker (ports apart from the shared test stack) so stopping it disturbs no other test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import Isolation, free_port
from tests.integration.kafka_reads import read_feed_until
from tools.devstack.config import StackConfig
from tools.devstack.servers import Kafka


@pytest.fixture
def private_kafka(stack: StackConfig, tmp_path: Path) -> Iterator[Kafka]:
    config = replace(
        stack,
        name="outage",
        run_dir=tmp_path / "outage-stack",
        kafka_port=free_port(),
        controller_port=free_port(),
        departments_port=free_port(),
    )
    kafka = Kafka(config)
    kafka.start()
    yield kafka
    kafka.stop()


def post_until_accepted(url: str, batch: list[dict[str, object]], headers: dict[str, str], limit_s: float) -> list[int]:
    """What a well-behaved publisher does: honour Retry-After until the batch is accepted."""
    statuses = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        response = httpx.post(url, json=batch, headers=headers, timeout=30)
        statuses.append(response.status_code)
        if response.status_code == 202:
            return statuses
        assert response.status_code == 503, response.text
        time.sleep(min(float(response.headers["Retry-After"]), 2.0))
    raise AssertionError(f"not accepted within {limit_s} s; statuses {statuses}")


def test_gateway_answers_503_while_kafka_is_down_and_recovers(isolation: Isolation, private_kafka: Kafka) -> None:
    bootstrap = private_kafka.url
    ingest = isolation.start(
        "ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz", CITYWATCH_KAFKA_BOOTSTRAP=bootstrap
    )
    url = f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch"
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}

    def batch(day: int) -> list[dict[str, object]]:
        return [
            {"station": "wj-pingwang", "observed_at": f"2025-04-{day:02d}T{h:02d}:00:00+08:00", "pm25": 20 + h}
            for h in range(24)
        ]

    assert httpx.post(url, json=batch(1), headers=auth, timeout=30).status_code == 202

    private_kafka.stop()
    down = httpx.post(url, json=batch(2), headers=auth, timeout=60)
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) >= 1
    assert "nothing from this request was accepted" in down.json()["detail"]

    private_kafka.start()
    statuses = post_until_accepted(url, batch(2), auth, limit_s=90)
    assert statuses[-1] == 202
    assert httpx.post(url, json=batch(3), headers=auth, timeout=30).status_code == 202

    topic = f"{isolation.id}.feed.air.environment"
    records = read_feed_until(bootstrap, topic, lambda rs: len(rs) >= 72, timeout_s=30)
    keys = {(r["station"], r["observed_at"]) for r in records}
    assert len(keys) == 72, "every reading of the three days is there"
    # A batch retried after a 503 may have reached Kafka before the timeout: the worker drops such repeats by
    # event id and revision, so at most the retried day can appear twice.
    assert len(records) <= 72 + 24


OUTAGE_S = 30.0
CLIENTS = ("wj-songling", "wj-lili", "wj-tongli")  # one publishing client per station


@pytest.mark.faults
def test_kafka_down_30s_under_load_retrying_clients_end_with_exact_counts(
    isolation: Isolation, private_kafka: Kafka
) -> None:
    """Three clients keep publishing day batches; Kafka stops for 30 s in the middle. Every answer is a 202 or a 503
    with Retry-After; each client retries until its batch is accepted; afterwards the feed topic holds exactly the
    readings sent (a batch retried after a timed-out publish may be there twice: the worker drops such repeats)."""
    bootstrap = private_kafka.url
    ingest = isolation.start(
        "ingest",
        "CITYWATCH_INGEST_PORT",
        health_path="/healthz",
        CITYWATCH_KAFKA_BOOTSTRAP=bootstrap,
        CITYWATCH_RATE_LIMIT_RECORDS="1000000",
    )
    url = f"http://127.0.0.1:{ingest.metrics_port}/v1/feeds/air/readings/batch"
    auth = {"Authorization": f"Bearer {isolation.api_key('environment')}"}
    stop = threading.Event()
    sent: dict[str, int] = {}
    statuses: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def client(station: str) -> None:
        day, seen = 0, []
        try:
            while not stop.is_set():
                at = date(2025, 1, 1) + timedelta(days=day)
                batch = [
                    {"station": station, "observed_at": f"{at.isoformat()}T{h:02d}:00:00+08:00", "pm25": 10 + h}
                    for h in range(24)
                ]
                seen += post_until_accepted(url, batch, auth, limit_s=120)
                day += 1
                time.sleep(0.2)
        except BaseException as exc:
            errors.append(exc)
        sent[station], statuses[station] = day * 24, seen

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in CLIENTS]
    for thread in threads:
        thread.start()
    time.sleep(5)
    private_kafka.stop()
    stopped = time.monotonic()
    time.sleep(OUTAGE_S)
    private_kafka.start()
    restarted = time.monotonic()
    time.sleep(5)  # the clients catch up and go on a little
    stop.set()
    for thread in threads:
        thread.join(timeout=150)
    assert not errors, errors
    answers = [s for seen in statuses.values() for s in seen]
    assert set(answers) <= {202, 503} and answers.count(503) >= len(CLIENTS), Counter(answers)

    total = sum(sent.values())
    records = read_feed_until(
        bootstrap,
        f"{isolation.id}.feed.air.environment",
        lambda rs: len({(r["station"], r["observed_at"]) for r in rs}) >= total,
        timeout_s=60,
    )
    keys = Counter((r["station"], r["observed_at"]) for r in records)
    assert len(keys) == total, "every reading accepted is on the topic, and nothing else"
    assert {station for station, _ in keys} == set(CLIENTS)
    repeats = sum(n - 1 for n in keys.values())
    print(
        f"\nkafka outage: down {restarted - stopped:.1f} s; {len(CLIENTS)} clients sent {total} readings in "
        f"{answers.count(202)} accepted batches after {answers.count(503)} answers 503; {repeats} repeats on the topic"
    )
