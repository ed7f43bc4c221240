"""`citywatch simulate` against a real gateway and Kafka: every feed topic gets exactly the records the scenario
says, the scripted malformed batch sits on the dead-letter topic, and the correction arrives with revision 1."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from citywatch.site_registry import load_registry
from services.simulator.incidents import DEFAULT_INCIDENTS, Correction
from services.simulator.scenario import Scenario
from tests.conftest import Isolation, free_port
from tests.integration.cli_runs import run_citywatch
from tests.integration.kafka_reads import read_feed_until, read_until
from tools.devstack.config import REPO_ROOT

START = "2025-06-02T00:00:00+08:00"  # a Monday: buses run from 06:00, yesterday's totals post at 01:00/02:00
HOURS = 8
REGISTRY = REPO_ROOT / "registry/wujiang-sample.yaml"


def test_simulator_feeds_every_topic_through_the_gateway(isolation: Isolation) -> None:
    topics = isolation.ensure_topics(partitions=1)
    gateway = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    registry = load_registry(REGISTRY)
    keys_file = isolation.tmp_path / "simulator-keys.json"
    keys_file.write_text(json.dumps({d.id: isolation.api_key(d.id) for d in registry.departments}))

    env = {
        **os.environ,
        **isolation.env,
        "CITYWATCH_INGEST_URL": f"http://127.0.0.1:{gateway.metrics_port}",
        "CITYWATCH_SIMULATOR_KEYS_FILE": str(keys_file),
        "CITYWATCH_SIMULATOR_METRICS_PORT": str(free_port()),
        "CITYWATCH_REGISTRY_FILE": str(REGISTRY),
    }
    command = ["simulate", "--start", START, "--hours", str(HOURS), "--speed", "max", "--seed", "7"]
    done = run_citywatch(command, env, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused by the gateway as expected" in done.stderr
    assert '"level": "error"' not in done.stderr, done.stderr[-3000:]

    # What the pure scenario says was posted, per feed topic (the malformed batch aside).
    zone = ZoneInfo("Asia/Shanghai")
    scenario = Scenario(registry, 7, datetime.fromisoformat(START), zone, DEFAULT_INCIDENTS)
    expected: Counter[str] = Counter()
    for step in range(HOURS):
        for batch in scenario.emissions(step):
            if not batch.malformed:
                expected[topics.feed(batch.feed, batch.department)] += len(batch.records)
    assert {topic.split(".")[-2] for topic in expected} == {"air", "water", "bus", "mode_share", "waste"}

    published: dict[str, list[dict[str, object]]] = {}
    for topic, count in expected.items():
        published[topic] = read_feed_until(
            isolation.stack.kafka_bootstrap, topic, lambda records, n=count: len(records) >= n, timeout_s=20
        )
        assert len(published[topic]) == count, topic

    correction = next(i for i in DEFAULT_INCIDENTS if isinstance(i, Correction))
    air = published[topics.feed("air", "environment")]
    revised = [r for r in air if r["revision"] == 1]
    assert [r["station"] for r in revised] == [correction.station]
    (original,) = [r for r in air if r["event_id"] == revised[0]["event_id"] and r["revision"] == 0]
    assert float(str(original["pm25"])) > float(str(revised[0]["pm25"]))

    letters = read_until(isolation.stack.kafka_bootstrap, topics.dead_letter, lambda records: len(records) >= 1, 20)
    (letter,) = letters
    assert (letter["feed"], letter["department"], letter["stage"]) == ("air", "environment", "ingest")
    assert "co_unit" in {e["field"] for e in letter["errors"]}  # type: ignore[union-attr]


def test_replay_of_a_recorded_csv_through_the_gateway(isolation: Isolation) -> None:
    topics = isolation.ensure_topics(partitions=1)
    gateway = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    keys_file = isolation.tmp_path / "simulator-keys.json"
    keys_file.write_text(json.dumps({"environment": isolation.api_key("environment")}))
    history = isolation.tmp_path / "songling-2021.csv"
    rows = [f"2021-01-01T{h:02d}:00,{30 + h}" for h in range(1, 24)]
    rows[5] = "2021-01-01T06:00,-4"  # a negative concentration: rejected and dead-lettered, the rest published
    rows[7] = "2021-01-01T08:00,NA"  # a gap: skipped
    history.write_text("observed_at,pm25\n" + "\n".join(rows) + "\n")
    env = {
        **os.environ,
        **isolation.env,
        "CITYWATCH_INGEST_URL": f"http://127.0.0.1:{gateway.metrics_port}",
        "CITYWATCH_SIMULATOR_KEYS_FILE": str(keys_file),
        "CITYWATCH_REGISTRY_FILE": str(REGISTRY),
        "COLUMNS": "200",
    }
    command = ["replay", str(history), "--feed", "air", "--site", "wj-songling", "--speed", "max", "--batch-size", "10"]
    done = run_citywatch(command, env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr  # something was rejected
    summary = dict(line.strip("│ ").split("│")[:2] for line in done.stdout.splitlines() if line.count("│") == 3)
    counts = {name.strip(): value.strip() for name, value in summary.items()}
    assert (counts["read"], counts["skipped (no value)"], counts["accepted"]) == ("23", "1", "21"), done.stdout
    assert counts["rejected by the gateway"] == "1" and "line 7: pm25" in done.stdout
    # The replay waited for the worker: every accepted reading was processed and counted.
    assert counts["processed by the worker"] == counts["counted (new or corrections)"] == "21", done.stdout
    assert counts["not processed yet"] == "0" and "readings/s" in counts["end to end"], done.stdout

    air = read_feed_until(
        isolation.stack.kafka_bootstrap, topics.feed("air", "environment"), lambda r: len(r) >= 21, 20
    )
    assert len(air) == 21 and all(r["station"] == "wj-songling" for r in air)
    read_until(isolation.stack.kafka_bootstrap, topics.dead_letter, lambda r: len(r) == 1, 20)
