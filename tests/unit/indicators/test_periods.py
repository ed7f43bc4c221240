"""Indicator records state the period they cover: every catalogue window has a rule for where it starts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.indicators.records import period_start

ZONE = ZoneInfo("Asia/Shanghai")
END = dt.datetime(2025, 4, 1, 0, tzinfo=ZONE)  # the end of 2025-03-31, of March, of the first quarter
PERIODS = {"day": "2025-03-31", "month": "2025-03", "quarter": "2025Q1", "ytd": "2025", "year": "2025",
           "interval": "2025-03-31T23:45:00+08:00", "1h": "2025-03-31T23", "8h": "2025-03-31T23", "24h": "2025-03-31T23",
           "sample": None, "fleet": None}  # fmt: skip
STARTS = {"day": dt.datetime(2025, 3, 31, tzinfo=ZONE), "month": dt.datetime(2025, 3, 1, tzinfo=ZONE),
          "quarter": dt.datetime(2025, 1, 1, tzinfo=ZONE), "ytd": dt.datetime(2025, 1, 1, tzinfo=ZONE),
          "year": dt.datetime(2025, 1, 1, tzinfo=ZONE), "interval": END - dt.timedelta(minutes=15),
          "1h": END - dt.timedelta(hours=1), "8h": END - dt.timedelta(hours=8), "24h": END - dt.timedelta(hours=24),
          "sample": END, "fleet": END}  # fmt: skip


@pytest.mark.parametrize("window", sorted({i.window for i in CATALOGUE.values()}))
def test_every_window_knows_where_its_period_starts(window: str) -> None:
    assert window in PERIODS, f"a new window {window!r}: add its rule to period_start and a case here"
    start = period_start(window, PERIODS[window], END)
    assert start == STARTS[window] and start.utcoffset() == END.utcoffset()
