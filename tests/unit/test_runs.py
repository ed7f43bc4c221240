"""Consecutive runs: the one helper behind the report's day ranges and the holiday calendar's year ranges."""

from __future__ import annotations

import datetime as dt

from citywatch.runs import consecutive_runs
from tools.report.render import day_ranges


def test_runs_of_years_and_days() -> None:
    assert consecutive_runs([2028, 2004, 2005, 2005, 2030, 2029], lambda y: y + 1) == [(2004, 2005), (2028, 2030)]
    days = [dt.date(2026, 12, 4), dt.date(2026, 12, 2), dt.date(2026, 12, 3), dt.date(2026, 12, 7)]
    assert day_ranges(days) == "2026-12-02 → 2026-12-04, 2026-12-07"
    assert consecutive_runs([], lambda y: y + 1) == []
