"""What several unit tests build the same way."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.schemas.indicator import IndicatorRecord

ZONE = ZoneInfo("Asia/Shanghai")


def catalogue_record(
    indicator: str, site: str, value: float, at: dt.datetime, local_date: dt.date | None = None, **fields: Any
) -> IndicatorRecord:
    """One sample's record of a catalogue indicator (the catalogue's unit and window) at `at`, for `local_date`
    (by default the deployment's, Asia/Shanghai, day of `at`); `fields` set any other field."""
    entry = CATALOGUE[indicator]
    return IndicatorRecord(
        indicator=indicator,
        site=site,
        value=value,
        unit=entry.unit,
        window=entry.window,
        observed_at=at,
        local_date=local_date or at.astimezone(ZONE).date(),
        samples=1,
        **fields,
    )
