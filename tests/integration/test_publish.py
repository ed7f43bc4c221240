"""`citywatch publish FILE` against the real broker: a department's SCRAM user writes its own feed topic.

The valid rows of a file reach `<prefix>.feed.air.environment`, the invalid ones land in `FILE.rejected.jsonl`; a
department whose ACL lacks the topic is refused by the broker (exit 3). SCRAM users are cluster-wide, so their names
carry the test's id (`--user-prefix`), as in test_kafka_access.py.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from citywatch.topics import Topics
from services.kafka_security import ensure_department_access, revoke_department
from tests.conftest import Isolation
from tests.integration.kafka_reads import read_until
from tools.cli import publish as publish_cli
from tools.devstack.config import REPO_ROOT

GRANTS = {"environment": ["air"], "transport": ["bus"]}
REGISTRY_FILE = REPO_ROOT / "registry/wujiang-sample.yaml"

AIR_CSV = (
    "station,observed_at,pm25,co,co_unit\n"
    "wj-songling,2025-03-01T08:00:00+08:00,31.5,,\n"
    "wj-shengze,2025-03-01T08:00:00+08:00,40,0.7,mg/m³\n"
    "wj-songling,2025-03-01T09:00:00,33,,\n"  # no UTC offset
    "wj-lili,2025-03-01T08:00:00+08:00,28,0.6,µg/m³\n"  # CO in the wrong unit
    "wj-bus-701,2025-03-01T08:00:00+08:00,10,,\n"  # not an air station
    "wj-tongli,2025-03-01T08:00:00+08:00,25,,\n"
)


@dataclass
class Publisher:
    isolation: Isolation
    passwords: dict[str, str]

    @property
    def user_prefix(self) -> str:
        return f"{self.isolation.id}-"

    def run(
        self,
        file: Path,
        feed: str,
        department: str,
        *extra: str,
        password: str | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """`citywatch publish` as the department; without `--follow` in `extra` it does not wait for the worker."""
        app = typer.Typer()
        publish_cli.register(app)
        app.command("noop", hidden=True)(lambda: None)
        env = {
            "CITYWATCH_TOPIC_PREFIX": self.isolation.id,
            "PUBLISH_TEST_PASSWORD": password or self.passwords[department],
            **(env or {}),
        }
        follow = () if "--follow" in extra else ("--no-follow",)
        args = [
            "publish", str(file), "--feed", feed, "--department", department,
            "--bootstrap", self.isolation.stack.departments_bootstrap,
            "--password-env", "PUBLISH_TEST_PASSWORD", "--user-prefix", self.user_prefix, *follow, *extra,
        ]  # fmt: skip
        result = CliRunner().invoke(app, args, env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output


@pytest.fixture
def publisher(isolation: Isolation) -> Iterator[Publisher]:
    topics = Topics(isolation.id)
    passwords = {d: secrets.token_urlsafe(18) for d in GRANTS}
    bootstrap = isolation.stack.kafka_bootstrap
    ensure_department_access(bootstrap, topics, GRANTS, passwords, user_prefix=f"{isolation.id}-", partitions=1)
    yield Publisher(isolation, passwords)
    for department in GRANTS:
        revoke_department(bootstrap, topics, department, user_prefix=f"{isolation.id}-")


def test_valid_rows_reach_the_departments_topic_and_invalid_ones_are_kept(publisher: Publisher, tmp_path: Path) -> None:
    path = tmp_path / "air.csv"
    path.write_text(AIR_CSV, encoding="utf-8")
    code, output = publisher.run(path, "air", "environment")
    assert code == 1, output
    assert "accepted: 3" in output and "rejected: 3" in output

    topic = Topics(publisher.isolation.id).feed("air", "environment")
    bootstrap = publisher.isolation.stack.kafka_bootstrap
    published = read_until(bootstrap, topic, lambda rs: len(rs) >= 3, timeout_s=20)
    assert sorted(r["station"] for r in published) == ["wj-shengze", "wj-songling", "wj-tongli"]
    assert all(r["event_id"] and r["pm25_unit"] == "µg/m³" for r in published)

    rejected = [json.loads(line) for line in (tmp_path / "air.csv.rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], [e["field"] for e in r["errors"]]) for r in rejected] == [
        (4, ["observed_at"]),
        (5, ["co_unit"]),
        (6, ["station"]),
    ]
    assert all(e["reason"] for r in rejected for e in r["errors"])

    # Only the valid rows, again: exit 0, and no stale rejections file left behind.
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in published[:2]))
    code, output = publisher.run(good, "air", "environment")
    assert code == 0, output
    assert "accepted: 2" in output and not (tmp_path / "good.jsonl.rejected.jsonl").exists()


def test_the_broker_refuses_a_topic_the_departments_acl_lacks(publisher: Publisher, tmp_path: Path) -> None:
    # The registry lets transport publish air for one station, but its Kafka ACL only has bus: the local checks
    # pass and the broker refuses (the case `citywatch kafka-access grant` fixes).
    data = yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))
    for department in data["departments"]:
        if department["id"] == "transport":
            department["feeds"].append("air")
    for station in data["stations"]:
        if station["id"] == "wj-tongli":
            station["department"] = "transport"
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    path = tmp_path / "air.jsonl"
    path.write_text('{"station": "wj-tongli", "observed_at": "2025-03-01T08:00:00+08:00", "pm25": 25}\n')

    code, output = publisher.run(path, "air", "transport", "--registry", str(registry), "--timeout", "5")
    assert code == 3, output
    topic = Topics(publisher.isolation.id).feed("air", "transport")
    flat = " ".join(output.split())
    assert f"write topic {topic}" in flat and "may lack an ACL" in flat
    assert "citywatch kafka-access grant --department transport --feed air" in flat
    assert "accepted: 0" in output


def test_a_wrong_password_exits_3(publisher: Publisher, tmp_path: Path) -> None:
    path = tmp_path / "air.csv"
    path.write_text(AIR_CSV, encoding="utf-8")
    code, output = publisher.run(path, "air", "environment", "--timeout", "3", password="not-the-password")
    assert code == 3, output
    assert "could not connect to Kafka" in " ".join(output.split())


def test_publish_follows_its_records_through_the_worker(publisher: Publisher, tmp_path: Path) -> None:
    """A department's direct publish waits for the worker's verdict on every record (asked of the gateway with its
    API key) and says what counted; publishing the same file again says they were already counted."""
    isolation = publisher.isolation
    isolation.ensure_topics(partitions=1)  # the feed topics exist (the fixture made them); the others too
    gateway = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    path = tmp_path / "air.jsonl"
    path.write_text(
        "".join(
            json.dumps({"station": s, "observed_at": (hour - timedelta(hours=2)).isoformat(), "pm25": 30}) + "\n"
            for s in ("wj-songling", "wj-lili", "wj-tongli")
        )
    )
    key = isolation.api_key("environment")
    follow = ("--follow", "--api-key", key, "--wait", "60")
    env = {"CITYWATCH_INGEST_URL": f"http://127.0.0.1:{gateway.metrics_port}", "COLUMNS": "200"}
    code, output = publisher.run(path, "air", "environment", *follow, env=env)
    flat = " ".join(output.replace("│", " ").split())
    assert code == 0, output
    assert "processed by the worker 3" in flat and "counted (new or corrections) 3" in flat, flat
    code, output = publisher.run(path, "air", "environment", *follow, env=env)
    flat = " ".join(output.replace("│", " ").split())
    assert code == 0 and "already counted (duplicates) 3" in flat, flat
