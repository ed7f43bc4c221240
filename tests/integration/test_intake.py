"""Trustworthy intake (issue 15), against the real gateway, worker, Kafka, Redis and Prometheus: what a department
sends either counts or comes back to it with a reason, whichever way it entered and however careless or hostile."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml
from kafka import KafkaProducer

from citywatch.feeds import parse_record
from citywatch.topics import Topics
from tests.conftest import REPO_ROOT, Isolation
from tests.integration.kafka_reads import prometheus_value, read_indicators_until, read_until

RECENT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)


def hour(n: int) -> str:
    """An hour-ending time n hours after a recent past hour."""
    return (RECENT + timedelta(hours=n)).isoformat()


@dataclass
class Pipeline:
    isolation: Isolation
    topics: Topics
    gateway: str

    def key(self, department: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.isolation.api_key(department)}"}

    def post(self, feed: str, records: Any, department: str = "environment", **kw: Any) -> httpx.Response:
        path = "readings/batch" if isinstance(records, list) else "readings"
        return httpx.post(f"{self.gateway}/v1/feeds/{feed}/{path}", json=records, headers=self.key(department), **kw)

    def produce(self, feed: str, department: str, records: list[dict[str, Any]], key: str | None = None) -> None:
        """Straight to Kafka, as a department's own producer would (kafka-python: murmur2 partitions)."""
        producer = KafkaProducer(bootstrap_servers=self.isolation.stack.kafka_bootstrap, acks="all")
        for record in records:
            site = key or next(str(record[f]) for f in ("station", "route", "plant", "section") if f in record)
            producer.send(self.topics.feed(feed, department), key=site.encode(), value=json.dumps(record).encode())
        producer.flush(timeout=30)
        producer.close()

    def letters(self, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60) -> list[dict[str, Any]]:
        return read_until(self.isolation.stack.kafka_bootstrap, self.topics.dead_letter, done, timeout_s)

    def indicators(self, done: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 60) -> list[dict[str, Any]]:
        return read_indicators_until(self.isolation.stack.kafka_bootstrap, self.topics.indicators, done, timeout_s)

    def rejections(self, department: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        """The department's /v1/rejections, once `done` holds (worker letters arrive through the gateway's
        follower)."""
        deadline = time.monotonic() + 60
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            seen = httpx.get(f"{self.gateway}/v1/rejections", headers=self.key(department)).json()
            if done(seen):
                return seen
            time.sleep(0.5)
        raise AssertionError(f"rejections of {department}: condition not met; saw {seen}")


def start_pipeline(isolation: Isolation, partitions: int = 2, worker: bool = True, **env: str) -> Pipeline:
    topics = isolation.ensure_topics(partitions=partitions)
    gateway = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz", **env)
    if worker:
        isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT", **env)
    return Pipeline(isolation, topics, f"http://127.0.0.1:{gateway.metrics_port}")


def daily(indicators: list[dict[str, Any]], site: str) -> bool:
    return any(r["site"] == site and r["indicator"] == "air.pm25.1h" for r in indicators)


def test_poison_and_future_records_are_dead_lettered_and_every_partition_moves_on(isolation: Isolation) -> None:
    """Findings 1, 2 and 8: a year-9999 or year-0001 record, or one dated 2099, cannot crash, stall or silence a
    station; each comes back to its department with the reason, and a pipeline alert fires."""
    p = start_pipeline(isolation)
    future = {"station": "wj-lili", "observed_at": "2099-01-01T00:00:00+08:00", "pm25": 30}
    refused = p.post("air", future)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "observed_at"
    assert "after the record was received" in refused.json()["errors"][0]["reason"]

    # Prometheus has scraped the worker's dead-letter counters at 0 before anything is refused (as in a running
    # deployment), so the alert's increase() sees the rise.
    series = f'citywatch_worker_dead_letters_total{{test="{isolation.id}",feed="air",outcome="invalid"}}'
    assert prometheus_value(isolation.stack.prometheus_url, series) == 0
    poison = [
        {"station": "wj-songling", "observed_at": "9999-12-31T23:59:59+14:00", "pm25": 30},
        {"station": "wj-lili", "observed_at": "2099-01-01T00:00:00+08:00", "pm25": 30},
        {"station": "wj-tongli", "observed_at": "0001-01-01T00:00:00+14:00", "pm25": 30},
    ]
    waste = {"plant": "wj-hazwaste", "period": "delivery", "delivered_at": "0001-01-01T00:00:00-14:00",
             "waste_kind": "hazardous", "received_tonnes": 3.0}  # fmt: skip
    p.produce("air", "environment", poison)
    p.produce("waste", "environment", [waste])
    good = [{"station": s, "observed_at": hour(1), "pm25": 20} for s in ("wj-songling", "wj-lili", "wj-tongli")]
    p.produce("air", "environment", good)

    # The good readings after the poison count: no partition is stuck, no station silenced.
    p.indicators(lambda rs: all(daily(rs, s) for s in ("wj-songling", "wj-lili", "wj-tongli")))
    letters = p.letters(lambda rs: len(rs) >= 5)  # the gateway's refusal + four at the worker
    worker = [letter for letter in letters if letter["stage"] == "worker"]
    assert len(worker) == 4
    assert all(letter["department"] == "environment" and letter["outcome"] == "invalid" for letter in worker)
    assert {letter["errors"][0]["field"] for letter in worker} == {"observed_at", "delivered_at"}
    reasons = " ".join(letter["errors"][0]["reason"] for letter in worker)
    assert "outside the years 1000–9998" in reasons and "after the record was received" in reasons

    # The department sees the worker's refusals too, with the event ids.
    mine = p.rejections("environment", lambda rs: sum(r["stage"] == "worker" for r in rs) >= 4)
    future_letter = next(r for r in mine if r["stage"] == "worker" and r["site"] == "wj-lili")
    assert future_letter["event_id"] == parse_record("air", poison[1]).event_id

    # The pipeline alert on worker-stage dead letters: its expression, on what Prometheus scraped of this run's
    # worker, names the feeds and outcomes (promtool's test of the rule checks its `for` and its text).
    rules = yaml.safe_load((REPO_ROOT / "deploy/prometheus/rules/citywatch-pipeline.yml").read_text())
    expr = next(
        r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "CitywatchWorkerDeadLetters"
    )
    metric = "citywatch_worker_dead_letters_total"
    ours = expr.replace(metric, f'{metric}{{test="{isolation.id}"}}')
    deadline = time.monotonic() + 60
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(found) < 2:
        answer = httpx.get(f"{isolation.stack.prometheus_url}/api/v1/query", params={"query": ours}).json()
        found = answer["data"]["result"]
        time.sleep(1)
    assert {(r["metric"]["feed"], r["metric"]["outcome"]) for r in found} == {("air", "invalid"), ("waste", "invalid")}


def test_a_feed_batch_sent_straight_to_kafka_counts_its_good_records_and_returns_each_bad_one(
    isolation: Isolation,
) -> None:
    """Feed batches (citywatch/schemas/feed_batch.py): many readings of one site in one message. Each is judged on
    its own; a bad one comes back with its index, the others count, and a broken envelope comes back whole."""
    p = start_pipeline(isolation)
    batch = {
        "kind": "feed-batch",
        "version": 1,
        "records": [
            {"station": "wj-songling", "observed_at": hour(1), "pm25": 21},
            {"station": "wj-songling", "observed_at": hour(2), "pm25": -5},  # no concentration is negative
            {"station": "wj-lili", "observed_at": hour(3), "pm25": 23},  # not the message's site
            {"station": "wj-songling", "observed_at": hour(4), "pm25": 24},
        ],
    }
    broken = {"kind": "feed-batch", "version": 7, "records": [{"station": "wj-songling"}]}
    p.produce("air", "environment", [batch, broken], key="wj-songling")

    counted = p.indicators(
        lambda rs: sum(r["site"] == "wj-songling" and r["indicator"] == "air.pm25.1h" for r in rs) >= 2
    )
    hourly = sorted(r["value"] for r in counted if r["site"] == "wj-songling" and r["indicator"] == "air.pm25.1h")
    assert hourly == [21.0, 24.0]
    letters = [r for r in p.letters(lambda rs: len(rs) >= 3) if r["stage"] == "worker"]
    by_index = {letter["source"].rsplit("#", 1)[-1]: letter for letter in letters if "#" in letter["source"]}
    assert sorted(by_index) == ["1", "2"], letters
    assert by_index["1"]["errors"][0]["field"] == "pm25" and json.loads(by_index["1"]["payload"])["pm25"] == -5
    assert by_index["2"]["errors"][0] == {"field": "key", "reason": "message key must equal the site id"}
    (whole,) = [letter for letter in letters if "#" not in letter["source"]]
    assert whole["errors"][0]["field"] == "(batch)" and "version 7" in whole["errors"][0]["reason"]
    assert all(letter["department"] == "environment" for letter in letters)


def test_dedup_is_scoped_to_the_department_and_conflicts_come_back(isolation: Isolation) -> None:
    """Findings 3 and 4, at the gateway and at the worker."""
    p = start_pipeline(isolation)
    # 3. urban management posts a record under the environment department's derived event id
    env_record = {"plant": "wj-hazwaste", "period": "day", "date": "2026-12-01", "waste_kind": "hazardous",
                  "received_tonnes": 120.0}  # fmt: skip
    stolen_id = parse_record("waste", env_record).event_id
    forged = {"plant": "wj-food-waste", "period": "day", "date": "2026-12-01", "waste_kind": "food",
              "received_tonnes": 300.0, "event_id": stolen_id}  # fmt: skip
    assert p.post("waste", forged, "urban-management").json()["accepted"] == 1
    real = p.post("waste", env_record)
    assert real.status_code == 202 and real.json() == {**real.json(), "accepted": 1, "duplicates": 0}

    # 4. the same id and revision with other content: 409 naming the field; revisions going backwards: 409 stale
    reading = {"station": "wj-songling", "observed_at": hour(3), "pm25": 10}
    assert p.post("air", reading).status_code == 202
    conflict = p.post("air", {**reading, "pm25": 999})
    assert conflict.status_code == 409, conflict.text
    (error,) = conflict.json()["errors"]
    assert error["field"] == "pm25" and "published 10.0, now 999.0" in error["reason"]
    assert p.post("air", {**reading, "pm25": 10}).json()["duplicates"] == 1
    backwards = {"station": "wj-songling", "observed_at": hour(4), "pm25": 11}
    assert p.post("air", {**backwards, "revision": 2}).status_code == 202
    for revision in (1, 0):
        stale = p.post("air", {**backwards, "revision": revision})
        assert stale.status_code == 409 and "stale revision" in stale.json()["errors"][0]["reason"]

    # The same, sent straight to Kafka: the worker dead-letters both, and the department hears of them.
    direct = {"station": "wj-tongli", "observed_at": hour(5), "pm25": 10, "revision": 1}
    p.produce("air", "environment", [direct, {**direct, "pm25": 999}, {**direct, "revision": 0}])
    letters = p.letters(lambda rs: sum(r["stage"] == "worker" for r in rs) >= 2)
    outcomes = sorted(r["outcome"] for r in letters if r["stage"] == "worker")
    assert outcomes == ["conflict", "stale-revision"]
    mine = p.rejections("environment", lambda rs: sum(r["stage"] == "worker" for r in rs) >= 2)
    assert {r["event_id"] for r in mine if r["stage"] == "worker"} == {parse_record("air", direct).event_id}


def test_a_huge_record_is_a_client_error_whose_rejection_is_kept(isolation: Isolation) -> None:
    """Finding 5: 60,000 unknown keys is a 422 listing 100 errors and the total, every time, never a 503 loop."""
    p = start_pipeline(isolation, worker=False)
    record = {"station": "wj-songling", "observed_at": hour(1), "pm25": 10, **{f"k{i}": i for i in range(60_000)}}
    for _ in range(2):
        response = p.post("air", record, timeout=60)
        assert response.status_code == 422, response.text[:300]
        body = response.json()
        assert len(body["errors"]) == 100 and body["errors_total"] == 60_000
    letters = p.letters(lambda rs: len(rs) >= 2)
    assert all(letter["errors_total"] == 60_000 and len(letter["errors"]) == 100 for letter in letters)
    mine = p.rejections("environment", lambda rs: len(rs) >= 2)
    assert mine[0]["errors_total"] == 60_000


def test_registry_semantics_refuse_a_foreign_vehicle_a_wrong_drive_and_a_waste_kind_a_plant_does_not_take(
    isolation: Isolation,
) -> None:
    """Finding 7, at the gateway (422) and at the worker (dead letters)."""
    p = start_pipeline(isolation)
    count = {"route": "wj-bus-701", "interval_start": hour(0), "interval_end": hour(1), "boardings": 40,
             "vehicle": "wj-v-701-01", "energy_type": "electric"}  # fmt: skip
    wrong = [
        ({**count, "vehicle": "wj-v-404"}, "vehicle"),
        ({**count, "vehicle": "wj-v-702-01"}, "vehicle"),
        ({**count, "energy_type": "diesel"}, "energy_type"),
    ]
    for record, field in wrong:
        response = p.post("bus", record, "transport")
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, response.text
    assert p.post("bus", count, "transport").status_code == 202
    food = {"plant": "wj-hazwaste", "period": "delivery", "delivered_at": hour(1), "waste_kind": "food",
            "received_tonnes": 3.0}  # fmt: skip
    response = p.post("waste", food)
    assert response.status_code == 422 and "does not take food waste" in response.json()["errors"][0]["reason"]

    p.produce("bus", "transport", [record for record, _ in wrong])
    p.produce("waste", "environment", [food])
    letters = p.letters(lambda rs: sum(r["stage"] == "worker" for r in rs) >= 4)
    fields = sorted(r["errors"][0]["field"] for r in letters if r["stage"] == "worker")
    assert fields == ["energy_type", "vehicle", "vehicle", "waste_kind"]


def test_a_producer_that_partitions_differently_is_told_which_partitioner_to_use(isolation: Isolation) -> None:
    """Finding 6: librdkafka's default partitioner (confluent-kafka, CRC32) puts some sites on another partition
    than their state's; those records are dead-lettered naming murmur2_random, and with it every one counts."""
    import secrets

    from confluent_kafka import Producer

    from services.kafka_grants import scram_user
    from services.kafka_security import ensure_department_access, revoke_department

    p = start_pipeline(isolation, partitions=4)
    password = secrets.token_urlsafe(18)
    prefix = f"{isolation.id}-"
    ensure_department_access(
        isolation.stack.kafka_bootstrap, p.topics, {"environment": ["air"]}, {"environment": password},
        user_prefix=prefix, partitions=4,
    )  # fmt: skip
    try:
        config = {
            "bootstrap.servers": isolation.stack.departments_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": scram_user("environment", prefix),
            "sasl.password": password,
            "enable.idempotence": True,
        }
        stations = ["wj-songling", "wj-shengze", "wj-lili", "wj-pingwang", "wj-tongli"]

        def send(partitioner: str | None, at: int) -> None:
            producer = Producer({**config, **({"partitioner": partitioner} if partitioner else {})})
            for station in stations:
                record = {"station": station, "observed_at": hour(at), "pm25": 20 + at}
                producer.produce(p.topics.feed("air", "environment"), key=station, value=json.dumps(record))
            assert producer.flush(30) == 0

        send(None, 1)  # librdkafka's default: consistent_random (CRC32)
        from streams.rule_source import partition_of

        misplaced = [s for s in stations if _crc32_partition(s, 4) != partition_of(s, 4)]
        assert misplaced, "the sample stations should include some that CRC32 and murmur2 place differently"
        letters = p.letters(lambda rs: len(rs) >= len(misplaced))
        assert sorted(letter["site"] for letter in letters) == sorted(misplaced)
        assert all(letter["outcome"] == "wrong-partition" for letter in letters)
        assert "partitioner=murmur2_random" in letters[0]["errors"][0]["reason"]

        send("murmur2_random", 2)  # Kafka's default, as the worker expects: all count
        p.indicators(lambda rs: {r["site"] for r in rs if r["indicator"] == "air.pm25.1h" and r["value"] == 22}
                     == set(stations))  # fmt: skip
    finally:
        revoke_department(isolation.stack.kafka_bootstrap, p.topics, "environment", user_prefix=prefix)


def _crc32_partition(key: str, partitions: int) -> int:
    """librdkafka's consistent_random partitioner: CRC32 of the key."""
    import zlib

    return zlib.crc32(key.encode()) % partitions


def test_slow_clients_are_cut_off_and_refused_records_count_against_the_rate_limit(isolation: Isolation) -> None:
    """Finding 11."""
    p = start_pipeline(
        isolation,
        worker=False,
        CITYWATCH_REQUEST_HEADER_TIMEOUT_S="2",
        CITYWATCH_REQUEST_BODY_TIMEOUT_S="2",
        CITYWATCH_RATE_LIMIT_RECORDS="20",
    )
    host, port = p.gateway.removeprefix("http://").split(":")
    # Headers dribbled a byte a second: the connection is closed after the header timeout.
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"POST /v1/feeds/air/readings HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 30:
            try:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
            except OSError:
                closed = True
                break
            if time.monotonic() - started > 6:
                break
        if not closed:
            sock.settimeout(3)
            closed = sock.recv(1024) == b""
        assert closed and time.monotonic() - started < 8
    # A body that never finishes: 408 after the body timeout.
    auth = p.key("environment")["Authorization"]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST /v1/feeds/air/readings HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.sendall(head.encode())
        started = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert time.monotonic() - started < 6
    # Refused records count: 15 invalid, then 10 valid records exceed 20 per window.
    key = p.key("environment")
    bad = [{"station": "wj-songling", "observed_at": hour(1), "pm25": -1}] * 15
    assert httpx.post(f"{p.gateway}/v1/feeds/air/readings/batch", json=bad, headers=key).status_code == 422
    good = [{"station": "wj-songling", "observed_at": hour(h), "pm25": 5} for h in range(10)]
    limited = httpx.post(f"{p.gateway}/v1/feeds/air/readings/batch", json=good, headers=key)
    assert limited.status_code == 429


def test_a_replay_behind_live_data_says_it_was_refused_as_too_late(isolation: Isolation, tmp_path: Any) -> None:
    """Finding 8: a replay into a station receiving live data follows its readings through the worker and says
    that all of them were refused as too late (exit 1), with the reason (history goes through --backfill)."""
    from typer.testing import CliRunner

    from tools.cli import app

    p = start_pipeline(isolation)
    # The station has been live for two days (its live lane began with hour 0) up to the last hours.
    live = [{"station": "wj-lili", "observed_at": hour(h), "pm25": 20} for h in (0, 45, 46, 47)]
    assert p.post("air", live).status_code == 202
    path = tmp_path / "lili.csv"
    path.write_text("observed_at,pm25\n" + "".join(f"{hour(h)},{25 + h % 5}\n" for h in range(1, 36)))  # 12 h+ behind
    env = {"CITYWATCH_INGEST_URL": p.gateway, "CITYWATCH_TOPIC_PREFIX": isolation.id, "COLUMNS": "200"}
    key = p.key("environment")["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(app, ["replay", str(path), "--site", "wj-lili", "--key", key, "--wait", "60"], env=env)
    flat = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 1, result.output
    assert "accepted 35" in flat and "processed by the worker 35" in flat and "refused: too-late 35" in flat, flat
    assert "too late: event time" in flat and "readings/s" in flat
    # The history endpoint is for the feeds whose history the worker can fold beside live data.
    refused = httpx.post(f"{p.gateway}/v1/feeds/bus/history", json=[], headers=p.key("transport"))
    assert refused.status_code == 404 and "available for the air feed" in refused.json()["detail"]
