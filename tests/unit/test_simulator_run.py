"""The simulator's clock, its gateway client (retries, Retry-After, no endless retry of a 422) and replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.simulator.clock import SimClock
from services.simulator.replay import ReplayInputError, load, replay
from services.simulator.run import Poster, default_start, send
from services.simulator.scenario import Batch

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 6, 2, tzinfo=UTC)


class FakeTime:
    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.real = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.wall + timedelta(seconds=self.real)

    def monotonic(self) -> float:
        return self.real

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.real += seconds


# --- clock -----------------------------------------------------------------------------------------------------------


def test_clock_runs_accelerated_then_never_ahead_of_the_wall_clock() -> None:
    fake = FakeTime(wall=T0 + timedelta(hours=2))  # the simulation starts two hours in the past
    clock = SimClock(T0, 720, now=fake.now, monotonic=fake.monotonic, sleep=fake.sleep)
    clock.wait_until(T0 + timedelta(hours=1))
    assert fake.sleeps == [pytest.approx(5.0)]  # one simulated hour at 720× is 5 s
    clock.wait_until(T0 + timedelta(hours=3))  # past the wall clock: waits for it (an hour, less the 5 s)
    assert fake.sleeps[-1] == pytest.approx(3600 - 5)


def test_clock_at_max_speed_only_waits_for_the_wall_clock() -> None:
    fake = FakeTime(wall=T0 + timedelta(hours=10))
    clock = SimClock(T0, None, now=fake.now, monotonic=fake.monotonic, sleep=fake.sleep)
    for hour in range(1, 11):
        clock.wait_until(T0 + timedelta(hours=hour))
    assert fake.sleeps == []
    clock.wait_until(T0 + timedelta(hours=11))
    assert fake.sleeps == [pytest.approx(3600)]


def test_default_start_is_the_top_of_an_hour_days_back() -> None:
    now = datetime(2026, 11, 28, 4, 29, 6, tzinfo=UTC)
    assert default_start(3.0, now) == datetime(2026, 11, 25, 4, tzinfo=UTC)


# --- posting ---------------------------------------------------------------------------------------------------------


def gateway(answers: list[httpx.Response | Exception]) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handle)), seen


def accepted(n: int, duplicates: int = 0) -> httpx.Response:
    return httpx.Response(202, json={"accepted": n, "duplicates": duplicates, "event_ids": []})


def test_poster_honours_retry_after_and_retries_until_accepted() -> None:
    client, seen = gateway(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={"detail": "slow down"}),
            httpx.ConnectError("refused"),
            httpx.Response(503, headers={"Retry-After": "3"}, json={"detail": "kafka down"}),
            accepted(2),
        ]
    )
    fake = FakeTime(T0)
    outcome = Poster(client, sleep=fake.sleep).post("air", "cw_key", [{"a": 1}, {"a": 2}])
    assert (outcome.status, outcome.accepted) == (202, 2)
    assert fake.sleeps == [7.0, 2.0, 3.0]  # Retry-After, then exponential backoff, then Retry-After again
    assert len(seen) == 4
    assert seen[0].url.path == "/v1/feeds/air/readings/batch"
    assert seen[0].headers["Authorization"] == "Bearer cw_key"


def test_a_422_is_returned_not_retried() -> None:
    errors = [{"index": 0, "field": "co_unit", "reason": "unit must be mg/m³"}]
    client, seen = gateway([httpx.Response(422, json={"detail": "1 of 1 records rejected", "errors": errors})])
    outcome = Poster(client, sleep=lambda s: pytest.fail("must not retry")).post("air", "k", [{}])
    assert (outcome.status, outcome.errors) == (422, errors)
    assert len(seen) == 1


def test_send_uses_each_departments_key_and_moves_on_after_the_malformed_batch() -> None:
    client, seen = gateway([httpx.Response(422, json={"detail": "x", "errors": []}), accepted(1)])
    poster = Poster(client, sleep=lambda s: None)
    keys = {"environment": "cw_env", "transport": "cw_tr"}
    send(poster, keys, Batch(T0, "environment", "air", [{"station": "x"}], malformed=True))
    send(poster, keys, Batch(T0, "transport", "bus", [{"route": "y"}]))
    send(poster, keys, Batch(T0, "urban-management", "waste", [{"plant": "z"}]))  # no key: not sent
    assert [r.headers["Authorization"] for r in seen] == ["Bearer cw_env", "Bearer cw_tr"]


def test_send_splits_large_batches() -> None:
    client, seen = gateway([accepted(500), accepted(500), accepted(1)])
    send(Poster(client), {"transport": "k"}, Batch(T0, "transport", "bus", [{"n": i} for i in range(1001)]))
    assert [len(json.loads(r.content)) for r in seen] == [500, 500, 1]


# --- replay ----------------------------------------------------------------------------------------------------------


def test_csv_with_observed_at_and_pm25_columns(tmp_path: Path) -> None:
    path = tmp_path / "songling.csv"
    path.write_text(
        "observed_at,pm25,pm10\n2021-01-01T02:00,35.5,60\n2021-01-01T01:00:00+08:00,NA,\n2021-01-01T03:00Z,40,\n"
    )
    loaded = load(path, "air", "wj-songling", ZONE)
    assert loaded.skipped == 1
    first, second = (record for _, record in loaded.rows)
    assert first == {
        "station": "wj-songling",
        "observed_at": "2021-01-01T02:00:00+08:00",  # a naive time is local
        "averaging_period": "1h",
        "pm25": 35.5,
        "pm10": 60.0,
        "pm10_unit": "µg/m³",
    }
    assert second["observed_at"] == "2021-01-01T03:00:00+00:00" and "pm10" not in second


def test_csv_daily_means_and_bad_inputs(tmp_path: Path) -> None:
    daily = tmp_path / "daily.csv"
    daily.write_text("date,value\n2021-01-01,48\n")
    (row,) = load(daily, "air", "wj-lili", ZONE, "24h").rows
    assert row[1]["observed_at"] == "2021-01-02T00:00:00+08:00" and row[1]["averaging_period"] == "24h"
    headless = tmp_path / "bad.csv"
    headless.write_text("when,level\n2021-01-01T01:00,3\n")
    with pytest.raises(ReplayInputError, match="observed-at column"):
        load(headless, "air", "wj-lili", ZONE)
    with pytest.raises(ReplayInputError, match="--site"):
        load(daily, "air", None, ZONE)
    with pytest.raises(ReplayInputError, match="JSON lines"):
        load(daily, "bus", None, ZONE)


def test_jsonl_of_any_feed(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    path.write_text(json.dumps({"route": "wj-bus-701", "interval_start": "2025-01-01T08:00:00+08:00"}) + "\n\n")
    (row,) = load(path, "bus", None, ZONE).rows
    assert row == (1, {"route": "wj-bus-701", "interval_start": "2025-01-01T08:00:00+08:00"})


def _air_rows(n: int, start: datetime = datetime(2021, 1, 1, tzinfo=ZONE)) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i + 2, {"station": "wj-songling", "observed_at": (start + timedelta(hours=i)).isoformat(), "pm25": 10.0 + i})
        for i in range(n)
    ]


def test_replay_at_max_speed_in_batches_resending_the_valid_rest_of_a_rejected_batch() -> None:
    rows = _air_rows(5)
    rows.reverse()  # out of order in the file: replayed in event-time order
    bad = {"index": 1, "field": "pm25", "reason": "too large"}
    client, seen = gateway(
        [accepted(3), httpx.Response(422, json={"detail": "1 of 2", "errors": [bad]}), accepted(0, duplicates=1)]
    )
    progress: list[int] = []
    summary = replay("air", rows, Poster(client), lambda r: "k", ZONE, batch_size=3, advance=progress.append)
    assert (summary.accepted, summary.duplicates, summary.rejected) == (3, 1, 1)
    assert summary.reasons == ["line 6: pm25: too large"]
    assert progress == [3, 2]
    first, second, third = (json.loads(r.content) for r in seen)
    assert [r["pm25"] for r in first] == [10.0, 11.0, 12.0]
    assert [r["pm25"] for r in second] == [13.0, 14.0]
    assert [r["pm25"] for r in third] == [13.0]


def test_replay_at_speed_n_spaces_records_by_event_time() -> None:
    rows = _air_rows(3)  # one hour apart
    client, seen = gateway([accepted(1), accepted(1), accepted(1)])
    fake = FakeTime(T0)
    summary = replay(
        "air", rows, Poster(client), lambda r: "k", ZONE, speed=3600, sleep=fake.sleep, monotonic=fake.monotonic
    )
    assert summary.accepted == 3 and len(seen) == 3
    assert fake.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]  # an hour apart at 3600× is a second


def test_replay_without_a_key_counts_rejected() -> None:
    client, seen = gateway([])
    summary = replay("air", _air_rows(2), Poster(client), lambda r: None, ZONE)
    assert summary.rejected == 2 and not seen
