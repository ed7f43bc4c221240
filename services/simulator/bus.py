"""Bus ridership per vehicle and 15-minute interval, and the daily public-transport mode share. Pure.

Workdays have a morning (7–9 h) and an evening (17–19 h) peak; weekends carry about 70 % of a workday, spread
over a late-morning and an afternoon hump; public holidays about 60 %. Service runs 06:00–22:00 local time.
Per-vehicle daily boardings are SAMPLE values by route type (urban, town, town–village).
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from services.simulator.air import rng

INTERVAL = timedelta(minutes=15)
SERVICE_START = time(6, 0)
SERVICE_END = time(22, 0)

DAILY_PER_VEHICLE: dict[str, float] = {"urban": 720.0, "town": 460.0, "town_village": 170.0}
"""Workday boardings per vehicle by route type (SAMPLE values)."""

DAY_FACTOR: dict[str, float] = {"workday": 1.0, "weekend": 0.7, "holiday": 0.6}

MODE_SHARE: dict[str, tuple[float, int]] = {
    "workday": (0.355, 1_250_000),
    "weekend": (0.325, 1_080_000),
    "holiday": (0.315, 980_000),
}
"""Public-transport share and all trips in the district by day type (SAMPLE values near the plan's 35 %)."""

SHARE_BOUNDS = (0.30, 0.38)


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2) / 2)


def profile(local_hour: float, day_type: str) -> float:
    """Relative boardings at a local hour (0 outside service hours)."""
    if not SERVICE_START.hour <= local_hour < SERVICE_END.hour:
        return 0.0
    if day_type == "workday":
        return (
            1.0
            + 2.4 * _bump(local_hour, 7.9, 0.8)
            + 1.9 * _bump(local_hour, 17.9, 1.0)
            + 0.3 * _bump(local_hour, 12.5, 1.5)
        )
    return 1.0 + 0.9 * _bump(local_hour, 10.5, 1.8) + 0.8 * _bump(local_hour, 16.0, 2.2)


def _quarters() -> list[float]:
    start, end = SERVICE_START.hour * 4, SERVICE_END.hour * 4
    return [q / 4 + 0.125 for q in range(start, end)]


_TOTALS: dict[str, float] = {
    day_type: sum(profile(h, day_type) for h in _quarters()) for day_type in ("workday", "weekend", "holiday")
}


def expected_boardings(route_type: str, local_start: datetime, day_type: str) -> float:
    """Expected boardings of one vehicle in the 15-minute interval starting at `local_start`."""
    hour = local_start.hour + local_start.minute / 60 + 0.125
    share = profile(hour, day_type) / _TOTALS[day_type]
    return DAILY_PER_VEHICLE.get(route_type, 300.0) * DAY_FACTOR[day_type] * share


def _count(r: float, mean: float, generator_sd: float = 0.12) -> int:
    """A count around `mean`: Poisson-like spread plus some overdispersion."""
    if mean <= 0:
        return 0
    sd = math.sqrt(mean + (generator_sd * mean) ** 2)
    return max(0, round(mean + sd * r))


def ridership(
    seed: int,
    route: str,
    route_type: str,
    vehicle: str,
    energy_type: str,
    interval_start: datetime,
    zone: tzinfo,
    day_type: str,
) -> dict[str, Any] | None:
    """One vehicle's boardings in the 15-minute interval (JSON-ready); None outside service hours."""
    local = interval_start.astimezone(zone)
    mean = expected_boardings(route_type, local, day_type)
    if mean <= 0:
        return None
    r = rng(seed, route, vehicle, int(interval_start.timestamp()))
    boardings = _count(r.gauss(0, 1), mean)
    alightings = _count(r.gauss(0, 1), mean)
    return {
        "route": route,
        "interval_start": local.isoformat(),
        "interval_end": (local + INTERVAL).isoformat(),
        "boardings": boardings,
        "alightings": alightings,
        "vehicle": vehicle,
        "energy_type": energy_type,
    }


def mode_share(seed: int, area: str, day: date, day_type: str) -> dict[str, Any]:
    """The area's trips on a local day (JSON-ready); the share stays within SHARE_BOUNDS."""
    r = rng(seed, area, "mode_share", day.isoformat())
    share, trips = MODE_SHARE[day_type]
    share = min(SHARE_BOUNDS[1], max(SHARE_BOUNDS[0], share + r.uniform(-0.012, 0.012)))
    all_trips = round(trips * r.uniform(0.97, 1.03))
    return {
        "area": area,
        "date": day.isoformat(),
        "all_trips": all_trips,
        "public_transport_trips": round(all_trips * share),
        "source": "travel_survey",
    }
