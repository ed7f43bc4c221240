"""Which hour a timestamp names: stated by the publisher, and a day holds the same 24 hours either way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from citywatch.feeds import parse_record
from citywatch.schemas.air import restamped
from services.simulator.replay import read_air_csv

ZONE = ZoneInfo("Asia/Shanghai")


def test_the_same_hours_in_either_convention_are_the_same_readings(tmp_path: Path) -> None:
    ending = tmp_path / "ending.csv"
    beginning = tmp_path / "beginning.csv"
    # The day 2025-06-01: hour-ending stamps run 01:00 … 24:00 (00:00 of the next day), hour-beginning 00:00 … 23:00.
    ending.write_text(
        "time,pm25\n" + "".join(f"2025-06-01 {h:02d}:00,{h}\n" for h in range(1, 24)) + "2025-06-02 00:00,24\n"
    )
    beginning.write_text("time,pm25\n" + "".join(f"2025-06-01 {h:02d}:00,{h + 1}\n" for h in range(24)))
    a = [parse_record("air", r) for _, r in read_air_csv(ending, "wj-songling", ZONE).rows]
    b = [
        parse_record("air", r)
        for _, r in read_air_csv(beginning, "wj-songling", ZONE, convention="hour-beginning").rows
    ]
    assert [r.event_id for r in a] == [r.event_id for r in b]  # the same hours: the same derived ids
    assert [(r.observed_from, r.observed_to, r.pm25) for r in a] == [
        (r.observed_from, r.observed_to, r.pm25) for r in b
    ]
    assert {r.observed_from.astimezone(ZONE).date().isoformat() for r in b} == {"2025-06-01"}
    assert all(r.observed_to - r.observed_from == timedelta(hours=1) for r in a)


def test_a_record_is_restamped_only_when_it_names_no_period() -> None:
    record = {"station": "s", "observed_at": "2025-06-01T08:00:00+08:00", "pm25": 1}
    assert restamped(record, "hour-ending") is record
    moved = restamped(record, "hour-beginning")
    assert moved == {"station": "s", "observed_from": "2025-06-01T08:00:00+08:00", "pm25": 1}
    explicit = {**record, "observed_from": "2025-06-01T07:00:00+08:00"}
    assert restamped(explicit, "hour-beginning") is explicit
    assert parse_record("air", moved).observed_at.isoformat() == "2025-06-01T09:00:00+08:00"
