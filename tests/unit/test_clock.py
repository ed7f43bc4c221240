"""The worker's processing clock: wall clock by default, start + elapsed × speed when accelerated."""

from __future__ import annotations

import datetime as dt

import pytest

from citywatch.clock import ProcessingClock
from citywatch.settings import WorkerSettings

START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_without_start_and_speed_it_is_the_wall_clock() -> None:
    wall = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    clock = ProcessingClock(wall=lambda: wall)
    assert not clock.accelerated
    assert clock.now() == wall


def test_an_accelerated_clock_runs_from_its_start_at_its_speed() -> None:
    ticks = Ticks()
    clock = ProcessingClock(START, 3600, monotonic=ticks)
    assert clock.now() == START
    ticks.t += 2.5
    assert clock.now() == START + dt.timedelta(hours=2.5)


def test_a_speed_without_start_starts_at_the_wall_clock() -> None:
    ticks = Ticks()
    clock = ProcessingClock(None, 60, wall=lambda: START, monotonic=ticks)
    ticks.t += 1
    assert clock.now() == START + dt.timedelta(minutes=1)


@pytest.mark.parametrize("speed", [0, -1])
def test_a_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        ProcessingClock(START, speed)


def test_a_start_must_have_an_offset() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ProcessingClock(dt.datetime(2026, 3, 1), 2)


def test_worker_settings_read_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_CLOCK_START", "2026-03-01T00:00:00+08:00")
    monkeypatch.setenv("CITYWATCH_CLOCK_SPEED", "3600")
    settings = WorkerSettings()
    assert (settings.clock_start_at, settings.clock_speed) == (START, 3600)
    assert WorkerSettings(clock_start="").clock_start_at is None
    with pytest.raises(ValueError, match="offset"):
        WorkerSettings(clock_start="2026-03-01T00:00:00")
    with pytest.raises(ValueError):
        WorkerSettings(clock_speed=0)


def test_a_clock_that_follows_the_events_moves_with_the_newest_event_only() -> None:
    wall = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)
    clock = ProcessingClock(follows_events=True, wall=lambda: wall)
    assert clock.now() == wall and not clock.ready  # nothing processed yet: staleness is not judged
    first = wall - dt.timedelta(days=3)
    clock.observe(first)
    assert clock.now() == first and clock.ready
    clock.observe(first - dt.timedelta(hours=5))  # a late or backfilled reading never moves it back
    assert clock.now() == first
    clock.observe(first + dt.timedelta(hours=4))
    assert clock.now() == first + dt.timedelta(hours=4)
    clock.observe(wall + dt.timedelta(minutes=4))  # within the gateway's skew allowance, but never past the wall clock
    assert clock.now() == wall
    with pytest.raises(ValueError, match="no start or speed"):
        ProcessingClock(START, 60, follows_events=True)


def test_the_wall_clock_ignores_events() -> None:
    wall = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)
    clock = ProcessingClock(wall=lambda: wall)
    clock.observe(wall - dt.timedelta(days=1))
    assert clock.now() == wall
