"""Deterministic PM2.5 readings: a diurnal cycle per station, noise from the seed, scripted episodes.

Pure: the same seed, station and hour always give the same value.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

# SAMPLE DATA: illustrative station ids and typical levels for Wujiang, not an official station list.
SAMPLE_STATIONS: dict[str, float] = {
    "wj-songling": 32.0,
    "wj-shengze": 36.0,
    "wj-lili": 28.0,
    "wj-pingwang": 30.0,
}


@dataclass(frozen=True)
class Episode:
    """A scripted pollution episode: the station's level is raised to `level` for the period."""

    station: str
    start_hour: int  # hours after the simulation start
    hours: int
    level: float


DEFAULT_EPISODES = (Episode("wj-songling", start_hour=24, hours=30, level=130.0),)


def pm25(seed: int, station: str, hour_index: int, local_hour: int, episodes: tuple[Episode, ...]) -> float:
    base = SAMPLE_STATIONS[station]
    # Morning and evening traffic peaks, a midday low (mixing layer), as urban PM2.5 shows.
    diurnal = (
        1.0 + 0.25 * math.cos((local_hour - 8) / 24 * 2 * math.pi) + 0.15 * math.cos((local_hour - 20) / 12 * math.pi)
    )
    rng = random.Random(f"{seed}|{station}|{hour_index}")
    value = base * diurnal * rng.lognormvariate(0.0, 0.15)
    for ep in episodes:
        if ep.station == station and ep.start_hour <= hour_index < ep.start_hour + ep.hours:
            value = ep.level * rng.lognormvariate(0.0, 0.05)
    return round(value, 1)


def hourly_readings(
    seed: int, start: datetime, hour_index: int, zone: tzinfo, episodes: tuple[Episode, ...] = DEFAULT_EPISODES
) -> list[dict[str, object]]:
    """All stations' readings for the hour ending `hour_index + 1` hours after `start`."""
    observed = start + timedelta(hours=hour_index + 1)
    local_hour = observed.astimezone(zone).hour
    return [
        {
            "station": station,
            "observed_at": observed.isoformat(),
            "pm25": pm25(seed, station, hour_index, local_hour, episodes),
        }
        for station in SAMPLE_STATIONS
    ]
