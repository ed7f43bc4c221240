"""Indicator records as the worker would publish them: the simulator's readings through the pure processors."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from citywatch.indicators import catalogue as cat
from citywatch.indicators.air_station import AirContext, process_station_batch
from citywatch.indicators.bus import ModeShareContext, process_area
from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.indicators.records import Contribution, day_end, record
from citywatch.indicators.waste import WasteContext, process_plant
from citywatch.indicators.water import WaterContext, process_section
from citywatch.schemas.air import AirReading
from citywatch.schemas.bus import ModeShareRecord
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.schemas.waste import WasteRecord
from citywatch.schemas.water import WaterSample
from citywatch.site_registry import Registry
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.targets import pm25_annual_target
from services.simulator.scenario import Scenario

ZONE = ZoneInfo("Asia/Shanghai")
DISTRICT = "wj-district"


def simulated_records(registry: Registry, start: dt.datetime, hours: int, seed: int = 7) -> list[IndicatorRecord]:
    """Every indicator record of `hours` simulated hours of the air, water, waste and mode-share feeds."""
    scenario = Scenario(registry, seed, start, ZONE, (), on_calendar_gap=lambda day: None)
    by_feed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for step in range(hours):
        for batch in scenario.emissions(step):
            by_feed[batch.feed].extend(batch.records)

    records: list[IndicatorRecord] = []
    contributions: list[Contribution] = []

    # One batch per station and local day, as the worker emits them day by day: the topic then holds each
    # year-to-date figure as it stood at the end of every day, not only its final value.
    air: dict[tuple[str, dt.date], list[AirReading]] = defaultdict(list)
    for raw in by_feed["air"]:
        reading = _valid(AirReading, raw)
        if reading is not None:
            air[reading.station, reading.observed_at.astimezone(ZONE).date()].append(reading)
    air_ctx = AirContext(zone=ZONE, district=DISTRICT)
    air_state: dict[str, Any] = {}
    for (station, _), readings in sorted(air.items(), key=lambda item: (item[0][1], item[0][0])):
        air_state[station], _, out, contrib = process_station_batch(air_state.get(station), readings, air_ctx)
        records += out
        contributions += contrib

    # The feeds processed a record at a time, each site with its own state: (feed, model, site, processor, context).
    sections = {s.id: s for s in registry.sections}
    plants = {p.id: p for p in registry.plants}
    per_site: list[tuple[str, Any, Callable[[Any], str], Callable[[Any, Any, Any], Any], Callable[[Any], Any]]] = [
        (
            "water",
            WaterSample,
            lambda sample: sample.section,
            process_section,
            lambda sample: WaterContext(
                zone=ZONE,
                kind=sections[sample.section].kind,
                target_class=sections[sample.section].target_class,
                district=DISTRICT,
            ),
        ),
        (
            "waste",
            WasteRecord,
            lambda rec: rec.plant,
            process_plant,
            lambda rec: WasteContext(
                zone=ZONE, capacity_t_per_day=plants[rec.plant].capacity_t_per_day, district=DISTRICT
            ),
        ),
        # Mode share makes no contributions: the district stage does not sum areas.
        ("mode_share", ModeShareRecord, lambda share: share.area, process_area, lambda _: ModeShareContext(zone=ZONE)),
    ]
    for feed, model, site_of, process, ctx_of in per_site:
        states: dict[str, Any] = {}
        for raw in by_feed[feed]:
            valid = _valid(model, raw)
            if valid is None:
                continue
            site = site_of(valid)
            result = process(states.get(site), valid, ctx_of(valid))
            states[site] = result.state
            records += result.records
            contributions += result.contributions

    district_state = None
    by_bucket: dict[str, list[Contribution]] = defaultdict(list)
    for c in contributions:
        by_bucket[c.bucket].append(c)
    for bucket in sorted(by_bucket):
        district_state, _, out = process_district_batch(district_state, by_bucket[bucket], DistrictContext(zone=ZONE))
        records += out
    return records


def _valid(model: Any, raw: dict[str, Any]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def year_records(registry: Registry, year: int, seed: int = 7) -> list[IndicatorRecord]:
    """A whole year of the daily and monthly indicator records the report reads, shaped as the worker publishes them
    (a daily bucket per day; year-to-date buckets revised every day; a month's class dated on its last day), with
    made-up values. Running the simulator through a year of hours would take minutes; this takes a fraction of a
    second."""
    rng = random.Random(seed)
    out: list[IndicatorRecord] = []
    ytd = str(year)
    good = 0
    sums = {s.id: 0.0 for s in registry.stations}
    exceed = {s.id: {"pm25": 0, "o3": 0} for s in registry.stations}
    trips = {a.id: [0.0, 0.0] for a in registry.areas}
    hazardous = sorted_in = sorted_out = 0.0
    first = dt.date(year, 1, 1)
    days = [first + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - first).days)]
    for n, day in enumerate(days, start=1):
        daily = _stamper(day, n, day.isoformat())
        to_date = _stamper(day, n, ytd, status="provisional")
        winter = math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / len(days))
        city = max(5.0, 34 + 20 * winter + rng.gauss(0, 12))
        out.append(daily(cat.CITY_PM25_DAILY_MEAN, DISTRICT, city))
        good += city <= 75
        out.append(to_date(cat.CITY_GOOD_DAY_SHARE_YTD, DISTRICT, good / n))
        target = float(pm25_annual_target(day).value)
        for station in registry.stations:
            value = max(3.0, city + rng.gauss(0, 5))
            sums[station.id] += value
            exceed[station.id]["pm25"] += value > 75
            exceed[station.id]["o3"] += rng.random() < 0.04 * (1 - winter)
            mean = sums[station.id] / n
            status = "on-track" if mean <= target else "at-risk" if mean <= target * 1.1 else "off-track"
            remaining = len(days) - n
            required = (target * len(days) - sums[station.id]) / remaining if remaining else target
            out.append(to_date(cat.PM25_ANNUAL_MEAN_YTD, station.id, mean))
            labels = {"required_mean": f"{max(required, 0):.1f}", "target": f"{target:g}"}
            out.append(to_date(cat.PM25_ATTAINMENT, station.id, mean, status=status, labels=labels))
            out.append(to_date(cat.PM25_EXCEEDANCE_DAYS_YTD, station.id, float(exceed[station.id]["pm25"])))
            out.append(to_date(cat.O3_EXCEEDANCE_DAYS_YTD, station.id, float(exceed[station.id]["o3"])))
        for area in registry.areas:
            trips[area.id][0] += rng.uniform(30_000, 40_000)
            trips[area.id][1] += 100_000
            out.append(to_date(cat.PUBLIC_TRANSPORT_SHARE_YTD, area.id, trips[area.id][0] / trips[area.id][1]))
        out.append(daily(cat.DISTRICT_TONNES_DAY, DISTRICT, rng.uniform(1900, 2500)))
        hazardous += rng.uniform(150, 200)
        out.append(to_date(cat.DISTRICT_HAZARDOUS_YTD, DISTRICT, hazardous))
        sorted_in += 1000
        sorted_out += rng.uniform(990, 1000)
        out.append(to_date(cat.DISTRICT_SORTED_TREATMENT_YTD, DISTRICT, sorted_out / sorted_in))
    for month in range(1, 13):
        last = (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)
        period = f"{year}-{month:02d}"
        good_iii = 0
        for section in registry.sections:
            target = WaterClass.parse(section.target_class)
            found = WaterClass(min(6, max(1, target.value + rng.choice((-1, 0, 0, 0, 1)))))
            good_iii += found <= WaterClass.III
            common: dict[str, Any] = dict(
                site=section.id,
                observed_at=day_end(last, ZONE),
                local_date=last,
                samples=30,
                revision=30,
                period=period,
            )
            labels = {"class": found.label, "target_class": target.label}
            out.append(record(cat.WATER_CLASS_MONTH, value=float(found.value), status="valid", labels=labels, **common))
            met = found <= target
            out.append(
                record(
                    cat.WATER_TARGET_MET_MONTH,
                    value=float(met),
                    status="met" if met else "not-met",
                    labels=labels,
                    **common,
                )
            )
        out.append(
            record(
                cat.WATER_GOOD_III_SHARE_MONTH, site=DISTRICT, value=good_iii / len(registry.sections),
                observed_at=day_end(last, ZONE), local_date=last, samples=len(registry.sections), revision=1, period=period,
            )
        )  # fmt: skip
    return out


def _stamper(day: dt.date, n: int, period: str, **fixed: Any) -> Callable[..., IndicatorRecord]:
    """A maker of `day`'s records of one bucket kind: daily (revision 0) or the year to date (revised daily)."""
    daily = period == day.isoformat()

    def make(indicator: cat.Indicator, site: str, value: float, **extra: Any) -> IndicatorRecord:
        return record(
            indicator, site=site, value=value, observed_at=day_end(day, ZONE), local_date=day,
            samples=24 if daily else n, revision=0 if daily else n, period=period, **{**fixed, **extra},
        )  # fmt: skip

    return make
