"""Benchmark input: hourly air readings that pass the worker's checks, and a registry with enough stations."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import yaml

from citywatch.schemas.feed_batch import BATCH_HEAD, RECORDS_PER_BATCH
from citywatch.site_registry import Registry, load_registry

BENCH_DEPARTMENT = "environment"
FIRST_HOUR = datetime(2021, 1, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def air_station_ids(registry: Registry, department: str = BENCH_DEPARTMENT) -> list[str]:
    """The registry's air stations the department may publish, in file order."""
    return [s.id for s in registry.stations if registry.may_publish(department, "air", s.id)]


def synthetic_station_id(index: int) -> str:
    return f"bench-st-{index:06d}"


def registry_with_stations(source: Path, count: int, dest: Path) -> tuple[Path, list[str]]:
    """`source`, or a copy of it with synthetic air stations added so it lists at least `count` of them.

    Returns the registry file the worker must read and the first `count` station ids.
    """
    registry = load_registry(source)
    ids = air_station_ids(registry)
    if count <= len(ids):
        return source, ids[:count]
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    bounds = data["bounds"]
    lon = (float(bounds["west"]) + float(bounds["east"])) / 2
    lat = (float(bounds["south"]) + float(bounds["north"])) / 2
    extra = [synthetic_station_id(i) for i in range(count - len(ids))]
    data["stations"] = [
        *data.get("stations", []),
        *({"id": s, "name_zh": s, "name_en": s, "lon": lon, "lat": lat, "department": BENCH_DEPARTMENT} for s in extra),
    ]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_registry(dest)  # the worker will load it: fail here, with every problem listed, rather than there
    return dest, [*ids, *extra]


def air_reading(station: str, observed_at: datetime, rng: random.Random) -> dict[str, object]:
    """One full hourly reading, shaped like the simulator's (all six pollutants, with units)."""
    pm25 = round(rng.uniform(5.0, 120.0), 1)
    return {
        "station": station,
        "observed_at": observed_at.isoformat(),
        "averaging_period": "1h",
        "pm25": pm25,
        "pm25_unit": "µg/m³",
        "pm10": round(pm25 * rng.uniform(1.45, 1.8), 1),
        "pm10_unit": "µg/m³",
        "o3": round(rng.uniform(20.0, 160.0), 1),
        "o3_unit": "µg/m³",
        "no2": round(rng.uniform(10.0, 60.0), 1),
        "no2_unit": "µg/m³",
        "so2": round(rng.uniform(3.0, 12.0), 1),
        "so2_unit": "µg/m³",
        "co": round(rng.uniform(0.3, 1.5), 2),
        "co_unit": "mg/m³",
    }


def readings(
    count: int, stations: list[str], seed: int = 5, first: datetime = FIRST_HOUR
) -> Iterator[tuple[bytes, bytes]]:
    """`count` (key, value) records: round-robin over the stations, one hour apart per station, so each station's
    readings are in event-time order and every one is new (no duplicate, none too late)."""
    if not stations:
        raise ValueError("no stations to publish readings for")
    rng = random.Random(seed)
    keys = [s.encode() for s in stations]
    for i in range(count):
        hour, slot = divmod(i, len(stations))
        observed_at = first + timedelta(hours=hour)
        yield keys[slot], orjson.dumps(air_reading(stations[slot], observed_at, rng))


def calm_reading(
    station: str, observed_at: datetime, rng: random.Random, pm25: float | None = None
) -> dict[str, object]:
    """A reading that breaches no air rule (PM2.5 5–35, O3 20–100 …) — or, with `pm25`, one that sets PM2.5 (and
    PM10 at 1.5×) to that value (the latency bench's probes)."""
    value = round(rng.uniform(5.0, 35.0), 1) if pm25 is None else pm25
    reading = air_reading(station, observed_at, rng)
    reading.update(pm25=value, pm10=round(value * 1.5, 1), o3=round(rng.uniform(20.0, 100.0), 1))
    return reading


def gateway_batches(records: Iterable[tuple[bytes, bytes]], per_request: int) -> Iterator[tuple[bytes, bytes, int]]:
    """The records as the gateway publishes them: each `per_request` in turn is one request, sent as one feed batch
    per site (citywatch/schemas/feed_batch.py). Yields (key, message, readings in it)."""
    chunk: list[tuple[bytes, bytes]] = []

    def flush() -> Iterator[tuple[bytes, bytes, int]]:
        by_site: dict[bytes, list[bytes]] = {}
        for key, value in chunk:
            by_site.setdefault(key, []).append(value)
        for key, values in by_site.items():
            for i in range(0, len(values), RECORDS_PER_BATCH):
                part = values[i : i + RECORDS_PER_BATCH]
                yield key, BATCH_HEAD + b"[" + b",".join(part) + b"]}", len(part)
        chunk.clear()

    for record in records:
        chunk.append(record)
        if len(chunk) >= per_request:
            yield from flush()
    yield from flush()
