"""Hourly air-quality readings: PM2.5 with a diurnal and a seasonal cycle and day-to-day weather, plus PM10, O3,
NO2, SO2 and CO. Pure: the same seed, station and hour always give the same values.

The shapes follow what Yangtze-delta stations show: PM2.5 is highest in winter and lowest in summer, with a
morning traffic peak, a midday low (the mixing layer is deepest) and an evening/night high; O3 is the opposite,
photochemical, peaking mid-afternoon in summer. Levels are SAMPLE values near Wujiang's recent annual means.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

# SAMPLE DATA: typical annual-mean PM2.5 (µg/m³) of the sample registry's stations; others get one from their id.
SAMPLE_LEVELS: dict[str, float] = {
    "wj-songling": 30.0,
    "wj-shengze": 33.0,
    "wj-lili": 27.0,
    "wj-pingwang": 29.0,
    "wj-tongli": 28.0,
}


def rng(seed: int, *parts: object) -> random.Random:
    """A generator seeded by the seed and the parts (string seeding hashes with SHA-512: stable across runs)."""
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def station_level(station: str) -> float:
    """The station's annual-mean PM2.5 (µg/m³)."""
    if station in SAMPLE_LEVELS:
        return SAMPLE_LEVELS[station]
    digest = int(hashlib.sha256(station.encode()).hexdigest()[:8], 16)
    return 24.0 + (digest % 100) / 10  # 24–34


def seasonal(day: date) -> float:
    """PM2.5 relative to the annual mean: ×1.3 in mid-January, ×0.7 in mid-July."""
    return 1.0 + 0.3 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 10) / 365.25)


def diurnal(local_hour: float) -> float:
    """PM2.5 relative to the daily mean by local hour: morning peak ~8 h, midday low ~14 h, evening high ~20 h."""
    return (
        1.0
        + 0.15 * math.cos(2 * math.pi * (local_hour - 21) / 24)
        + 0.14 * math.cos(2 * math.pi * (local_hour - 8.5) / 12)
    )


def _weather_of_day(seed: int, day: date) -> float:
    r = rng(seed, "weather", day.isoformat())
    return min(1.4, max(0.7, r.lognormvariate(0.0, 0.18)))


def weather(seed: int, local: datetime) -> float:
    """Regional day-to-day variation (shared by every station), interpolated between local noons."""
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    other = noon + timedelta(days=1 if local >= noon else -1)
    fraction = abs((local - noon).total_seconds()) / 86400
    return (1 - fraction) * _weather_of_day(seed, noon.date()) + fraction * _weather_of_day(seed, other.date())


def pm25(seed: int, station: str, observed_at: datetime, zone: tzinfo, episode_level: float | None = None) -> float:
    """The hourly PM2.5 (µg/m³) ending at `observed_at`; an episode replaces it by about `episode_level`."""
    local = observed_at.astimezone(zone)
    r = rng(seed, station, int(observed_at.timestamp()))
    if episode_level is not None:
        return round(episode_level * r.lognormvariate(0.0, 0.05), 1)
    value = station_level(station) * seasonal(local.date()) * weather(seed, local)
    value *= diurnal(local.hour - 0.5) * r.lognormvariate(0.0, 0.15)
    return round(value, 1)


def reading(
    seed: int,
    station: str,
    observed_at: datetime,
    zone: tzinfo,
    *,
    episode_level: float | None = None,
    spike: float = 1.0,
) -> dict[str, Any]:
    """One station's hourly reading (JSON-ready). `spike` multiplies the PM2.5 (an instrument spike)."""
    local = observed_at.astimezone(zone)
    hour = local.hour - 0.5
    value = pm25(seed, station, observed_at, zone, episode_level)
    r = rng(seed, station, int(observed_at.timestamp()), "others")
    summer = 1.0 - (seasonal(local.date()) - 1.0) / 0.3  # 0 in January … 2 in July
    traffic = 1.0 + 0.35 * math.exp(-(((hour - 8) / 1.5) ** 2)) + 0.45 * math.exp(-(((hour - 19) / 2.0) ** 2))
    sun = max(0.0, math.sin(math.pi * (hour - 7) / 12)) ** 1.5 if 7 <= hour <= 19 else 0.0
    return {
        "station": station,
        "observed_at": local.isoformat(),
        "averaging_period": "1h",
        "pm25": round(value * spike, 1),
        "pm25_unit": "µg/m³",
        "pm10": round(value * r.uniform(1.45, 1.8), 1),
        "pm10_unit": "µg/m³",
        "o3": round((25 + (45 + 50 * summer) * sun) * r.lognormvariate(0.0, 0.12), 1),
        "o3_unit": "µg/m³",
        "no2": round(24 * (1.35 - 0.175 * summer) * traffic * r.lognormvariate(0.0, 0.15), 1),
        "no2_unit": "µg/m³",
        "so2": round(6.5 * r.lognormvariate(0.0, 0.2), 1),
        "so2_unit": "µg/m³",
        "co": round(0.45 + value / 120 * r.lognormvariate(0.0, 0.1), 2),
        "co_unit": "mg/m³",
    }


def with_unit_slip(record: dict[str, Any]) -> dict[str, Any]:
    """The same reading with CO sent in µg/m³ (a unit slip the gateway must refuse, not convert)."""
    co = record["co"]
    assert isinstance(co, float)
    return {**record, "co": round(co * 1000, 1), "co_unit": "µg/m³"}
