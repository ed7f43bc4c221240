"""Indicator records as the worker would publish them: the simulator's readings through the pure processors."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from citywatch.indicators.air_station import AirContext, process_station_batch
from citywatch.indicators.bus import ModeShareContext, process_area
from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.indicators.records import Contribution
from citywatch.indicators.waste import WasteContext, process_plant
from citywatch.indicators.water import WaterContext, process_section
from citywatch.registry import Registry
from citywatch.schemas.air import AirReading
from citywatch.schemas.bus import ModeShareRecord
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.schemas.waste import WasteRecord
from citywatch.schemas.water import WaterSample
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

    sections = {s.id: s for s in registry.sections}
    water_state: dict[str, Any] = {}
    for raw in by_feed["water"]:
        sample = _valid(WaterSample, raw)
        if sample is None:
            continue
        section = sections[sample.section]
        ctx = WaterContext(zone=ZONE, kind=section.kind, target_class=section.target_class, district=DISTRICT)
        result = process_section(water_state.get(sample.section), sample, ctx)
        water_state[sample.section] = result.state
        records += result.records
        contributions += result.contributions

    plants = {p.id: p for p in registry.plants}
    waste_state: dict[str, Any] = {}
    for raw in by_feed["waste"]:
        rec = _valid(WasteRecord, raw)
        if rec is None:
            continue
        waste_ctx = WasteContext(zone=ZONE, capacity_t_per_day=plants[rec.plant].capacity_t_per_day, district=DISTRICT)
        result = process_plant(waste_state.get(rec.plant), rec, waste_ctx)
        waste_state[rec.plant] = result.state
        records += result.records
        contributions += result.contributions

    area_state: dict[str, Any] = {}
    for raw in by_feed["mode_share"]:
        share = _valid(ModeShareRecord, raw)
        if share is None:
            continue
        result = process_area(area_state.get(share.area), share, ModeShareContext(zone=ZONE))
        area_state[share.area] = result.state
        records += result.records

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
