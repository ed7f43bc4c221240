"""Waste-plant weighbridge deliveries through the day and each plant's daily totals by waste kind. Pure.

A plant's day is planned at once (trucks until the day's intake is reached) so that the daily total is the sum of
the day's deliveries. Household plants take about 76–88 % of their design capacity every day; the hazardous-waste
plant receives on weekdays only and incinerates at a steady rate from its store. Sorted fractions (food, residual,
…) also carry the tonnes collected and centrally treated (the plan's > 99 % rate). Truck loads and hours are SAMPLE
values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from citywatch.schemas.waste import SORTED_FRACTIONS
from services.simulator.air import rng


@dataclass(frozen=True)
class Plant:
    """What the generator needs of a registry plant."""

    id: str
    process: str  # incineration | biological | recycling
    accepts: tuple[str, ...]
    capacity: float  # t/day


@dataclass(frozen=True)
class Truck:
    load: tuple[float, float]  # tonnes per delivery
    hours: tuple[float, float, float]  # earliest, busiest, latest local hour


TRUCKS: dict[str, Truck] = {
    "household": Truck((8.0, 16.0), (4.0, 8.0, 22.0)),
    "residual": Truck((8.0, 16.0), (4.0, 8.0, 22.0)),
    "food": Truck((4.0, 9.0), (6.0, 10.0, 20.0)),
    "recyclable": Truck((3.0, 8.0), (7.0, 11.0, 18.0)),
    "household_hazardous": Truck((0.5, 2.0), (8.0, 10.0, 16.0)),
    "hazardous": Truck((2.0, 12.0), (8.0, 10.0, 17.0)),
}


@dataclass(frozen=True)
class Delivery:
    at: datetime
    kind: str
    tonnes: float
    ticket: str


def intake_target(seed: int, plant: Plant, day: date, factor: float | None) -> float:
    """Tonnes the plant receives on the day (`factor` × capacity when an incident forces it)."""
    if factor is not None:
        return plant.capacity * factor
    r = rng(seed, plant.id, "intake", day.isoformat())
    if "hazardous" in plant.accepts:
        return plant.capacity * r.uniform(0.85, 0.98) if day.weekday() < 5 else 0.0
    return plant.capacity * r.uniform(0.76, 0.88)


@lru_cache(maxsize=256)
def day_plan(seed: int, plant: Plant, day: date, zone: tzinfo, factor: float | None = None) -> tuple[Delivery, ...]:
    """Every delivery of the plant's local day, in time order; their tonnes sum to at most the intake target."""
    r = rng(seed, plant.id, "deliveries", day.isoformat(), factor)
    target = intake_target(seed, plant, day, factor)
    shares = _kind_shares(plant)
    midnight = datetime.combine(day, time(0), zone)
    loads: list[tuple[float, str, float]] = []
    for kind, share in shares.items():
        truck = TRUCKS.get(kind, TRUCKS["household"])
        total, goal = 0.0, target * share
        while True:
            tonnes = round(r.uniform(*truck.load), 2)
            if total + tonnes > goal:
                break
            total += tonnes
            earliest, busiest, latest = truck.hours
            loads.append((r.triangular(earliest, latest, busiest), kind, tonnes))
    loads.sort()
    out = []
    for n, (hour, kind, tonnes) in enumerate(loads, start=1):
        at = midnight + timedelta(seconds=round(hour * 3600))
        out.append(Delivery(at, kind, tonnes, f"{plant.id}-{day:%Y%m%d}-{n:04d}"))
    return tuple(out)


def _kind_shares(plant: Plant) -> dict[str, float]:
    if set(plant.accepts) == {"household", "residual"}:
        return {"household": 0.55, "residual": 0.45}
    return {kind: 1 / len(plant.accepts) for kind in plant.accepts}


def delivery_record(plant: Plant, delivery: Delivery) -> dict[str, Any]:
    """One weighbridge ticket (JSON-ready)."""
    return {
        "plant": plant.id,
        "period": "delivery",
        "delivered_at": delivery.at.isoformat(),
        "ticket": delivery.ticket,
        "waste_kind": delivery.kind,
        "received_tonnes": delivery.tonnes,
    }


def daily_totals(seed: int, plant: Plant, day: date, zone: tzinfo, factor: float | None = None) -> list[dict[str, Any]]:
    """The plant's totals for a local day, one record per waste kind it accepts (JSON-ready)."""
    plan = day_plan(seed, plant, day, zone, factor)
    r = rng(seed, plant.id, "totals", day.isoformat())
    records: list[dict[str, Any]] = []
    for kind in plant.accepts:
        received = round(sum(d.tonnes for d in plan if d.kind == kind), 2)
        record: dict[str, Any] = {
            "plant": plant.id,
            "period": "day",
            "date": day.isoformat(),
            "waste_kind": kind,
            "received_tonnes": received,
        }
        if plant.process == "incineration":
            if kind == "hazardous":  # burnt steadily from the store, weekends included
                record["incinerated_tonnes"] = round(plant.capacity * r.uniform(0.64, 0.72), 2)
            else:
                record["incinerated_tonnes"] = round(received * r.uniform(0.96, 1.03), 2)
        if kind in SORTED_FRACTIONS:
            record["sorted_collected_tonnes"] = round(received / r.uniform(0.992, 0.999), 2)
            record["sorted_treated_tonnes"] = received
        records.append(record)
    return records
