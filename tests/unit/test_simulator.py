"""The simulator's generators and scenario: deterministic, realistic within stated bounds, valid, incidents exact."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from citywatch.feeds import SITE_FIELDS, parse_record
from citywatch.schemas.water import WaterSample
from citywatch.site_registry import Registry, WastePlant, WaterSection, load_registry
from citywatch.standards.gb3838 import WaterClass, classify_section
from services.simulator import air, bus, waste, water
from services.simulator.incidents import (
    DEFAULT_INCIDENTS,
    Correction,
    MalformedBatch,
    PlantOverCapacity,
    PollutionEpisode,
    SectionDegradation,
    SilentSensor,
)
from services.simulator.scenario import Batch, Scenario
from tests.unit.rules.alert_path import pm25_24h_transitions

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 6, 2, tzinfo=ZONE)  # a Monday
STEPS = 72  # three simulated days


@cache
def registry() -> Registry:
    return load_registry("registry/wujiang-sample.yaml")


def section(site_id: str) -> WaterSection:
    site = registry().site(site_id)
    assert isinstance(site, WaterSection)
    return site


def plant(site_id: str) -> WastePlant:
    site = registry().site(site_id)
    assert isinstance(site, WastePlant)
    return site


@cache
def run(seed: int = 1, incidents: bool = True, attempt: int = 0) -> tuple[tuple[int, Batch], ...]:
    """Three simulated days of emissions (`attempt` > 0 computes the same again from a fresh scenario)."""
    scenario = Scenario(registry(), seed, START, ZONE, DEFAULT_INCIDENTS if incidents else ())
    return tuple((step, batch) for step in range(STEPS) for batch in scenario.emissions(step))


def records(feed: str, seed: int = 1, incidents: bool = True) -> list[dict[str, Any]]:
    return [r for _, b in run(seed, incidents) if b.feed == feed and not b.malformed for r in b.records]


# --- determinism ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["air", "water", "bus", "mode_share", "waste"])
def test_same_seed_same_output_different_seed_different(feed: str) -> None:
    first = [r for _, b in run(1) if b.feed == feed for r in b.records]
    second = [r for _, b in run(1, attempt=1) if b.feed == feed for r in b.records]
    assert first and first == second
    assert records(feed, seed=2) != records(feed, seed=1)


def test_generators_are_functions_of_seed_site_and_time() -> None:
    at = datetime(2025, 3, 1, 9, tzinfo=ZONE)
    assert air.reading(5, "wj-lili", at, ZONE) == air.reading(5, "wj-lili", at, ZONE)
    assert air.reading(5, "wj-lili", at, ZONE) != air.reading(5, "wj-tongli", at, ZONE)
    # the scenario's start does not change a site's value at a given instant (absent incidents)
    late = Scenario(registry(), 1, START + timedelta(hours=5), ZONE, ())
    early = Scenario(registry(), 1, START, ZONE, ())
    assert late.emissions(0)[0].records == early.emissions(5)[0].records


# --- validity --------------------------------------------------------------------------------------------------------


def test_every_record_validates_and_names_a_registry_site_of_its_feed_and_department() -> None:
    reg = registry()
    seen: set[str] = set()
    for _, batch in run():
        for record in batch.records:
            site = str(record[SITE_FIELDS[batch.feed]])
            assert reg.has_site(site), site
            assert reg.may_publish(batch.department, batch.feed, site), (batch.department, batch.feed, site)
            if batch.malformed:
                with pytest.raises(ValueError):
                    parse_record(batch.feed, record)
            else:
                parse_record(batch.feed, record)
            seen.add(batch.feed)
    assert seen == {"air", "water", "bus", "mode_share", "waste"}


def test_every_registry_site_is_simulated() -> None:
    """Three days name every site but the provincial sections (manual samples only, monthly: see below)."""
    reg = registry()
    named = {str(r[SITE_FIELDS[b.feed]]) for _, b in run() for r in b.records}
    provincial = {s.id for s in reg.sections if s.level == "provincial"}
    assert {s.id for s in reg.all_sites()} - provincial <= named


# --- air -------------------------------------------------------------------------------------------------------------


def _hourly_means(start: datetime, days: int) -> dict[int, float]:
    by_hour: dict[int, list[float]] = defaultdict(list)
    for h in range(24 * days):
        at = start + timedelta(hours=h + 1)
        for station in air.SAMPLE_LEVELS:
            by_hour[at.hour].append(air.pm25(1, station, at, ZONE))
    return {hour: statistics.mean(values) for hour, values in by_hour.items()}


@pytest.mark.parametrize("start", [datetime(2025, 1, 6, tzinfo=ZONE), datetime(2025, 7, 7, tzinfo=ZONE)])
def test_pm25_daily_cycle(start: datetime) -> None:
    """Three weeks, five stations: the hours 07–09 and 18–20 (readings ending at 8, 9 and 19, 20 h) are above
    13–15 h. Measured (seed 1): morning/midday 1.16 (Jan) and 1.20 (Jul), evening/midday 1.46 and 1.51."""
    means = _hourly_means(start, days=21)
    morning = (means[8] + means[9]) / 2
    midday = (means[14] + means[15]) / 2
    evening = (means[19] + means[20]) / 2
    assert morning >= 1.08 * midday
    assert evening >= 1.25 * midday


def test_pm25_seasonal_cycle() -> None:
    """January mean ≥ 1.4 × July mean (measured at wj-songling, seed 1: 40.8 vs 20.9 µg/m³)."""

    def month_mean(month: int) -> float:
        return statistics.mean(
            air.pm25(1, "wj-songling", datetime(2025, month, d, h, tzinfo=ZONE), ZONE)
            for d in range(1, 29)
            for h in range(24)
        )

    assert month_mean(1) >= 1.4 * month_mean(7)


def test_air_readings_are_hourly() -> None:
    for record in records("air"):
        assert record["averaging_period"] == "1h"
        observed = datetime.fromisoformat(str(record["observed_at"]))
        assert (observed.minute, observed.second) == (0, 0)


# --- bus and mode share ---------------------------------------------------------------------------------------------


def _daily_boardings(day: date, day_type: str) -> int:
    scenario = Scenario(registry(), 1, START, ZONE, ())
    total = 0
    midnight = datetime.combine(day, datetime.min.time(), ZONE)
    for q in range(96):
        at = midnight + timedelta(minutes=15 * q)
        for route, route_type, vehicles in scenario.routes:
            for vehicle, energy in vehicles:
                record = bus.ridership(1, route, route_type, vehicle, energy, at, ZONE, day_type)
                total += int(record["boardings"]) if record else 0
    return total


def test_weekday_weekend_and_holiday_ridership() -> None:
    """Two weeks of 2025-09 and the 2025 National Day holiday: mean workday boardings / mean weekend ≥ 1.2
    (measured 1.43), and every holiday day below every workday (holidays ≈ 0.6 of a workday)."""
    reg = registry()
    days = [date(2025, 9, 15) + timedelta(days=n) for n in range(14)] + [date(2025, 10, 2), date(2025, 10, 3)]
    totals: dict[str, list[int]] = defaultdict(list)
    for day in days:
        kind = reg.day_type(day)
        totals[kind].append(_daily_boardings(day, kind))
    assert set(totals) == {"workday", "weekend", "holiday"}
    assert statistics.mean(totals["workday"]) >= 1.2 * statistics.mean(totals["weekend"])
    assert max(totals["holiday"]) < min(totals["workday"])


def test_ridership_peaks_on_workdays() -> None:
    day = date(2025, 9, 16)
    midnight = datetime.combine(day, datetime.min.time(), ZONE)

    def hour_mean(hour: int) -> float:
        return statistics.mean(
            bus.expected_boardings("urban", midnight + timedelta(hours=hour, minutes=m), "workday") for m in (0, 30)
        )

    assert hour_mean(8) > 1.8 * hour_mean(11) and hour_mean(18) > 1.6 * hour_mean(11)
    assert bus.expected_boardings("urban", midnight + timedelta(hours=3), "workday") == 0


def test_bus_counts_are_15_minute_intervals_of_fleet_vehicles() -> None:
    reg = registry()
    for record in records("bus"):
        start = datetime.fromisoformat(str(record["interval_start"]))
        end = datetime.fromisoformat(str(record["interval_end"]))
        assert end - start == timedelta(minutes=15)
        vehicle = reg.vehicle(str(record["vehicle"]))
        assert (vehicle.route, vehicle.energy_type) == (record["route"], record["energy_type"])


def test_mode_share_within_bounds() -> None:
    """Every day of 2025 (all day types): public-transport share within 0.30–0.38."""
    reg = registry()
    shares = []
    for n in range(365):
        day = date(2025, 1, 1) + timedelta(days=n)
        record = bus.mode_share(1, "wj-district", day, reg.day_type(day))
        shares.append(int(record["public_transport_trips"]) / int(record["all_trips"]))
    assert min(shares) >= 0.30 and max(shares) <= 0.38
    daily = records("mode_share")
    assert [r["date"] for r in daily] == ["2025-06-01", "2025-06-02", "2025-06-03"]


def test_calendar_gap_falls_back_to_weekday_and_warns_once() -> None:
    gaps: list[date] = []
    scenario = Scenario(registry(), 1, START, ZONE, (), on_calendar_gap=gaps.append)
    assert scenario.day_type(date(2031, 1, 6)) == "workday"  # a Monday
    assert scenario.day_type(date(2031, 1, 11)) == "weekend"
    assert scenario.day_type(date(2025, 10, 1)) == "holiday"
    assert gaps == [date(2031, 1, 6)]


# --- water -----------------------------------------------------------------------------------------------------------


def test_automatic_sections_every_four_hours_with_the_nine_basic_indicators() -> None:
    national = {s.id for s in registry().sections if s.level == "national"}
    automatic = [r for r in records("water", incidents=False) if r["method"] == "automatic"]
    assert {r["section"] for r in automatic} == national
    for record in automatic:
        assert datetime.fromisoformat(str(record["sampled_at"])).hour % 4 == 0
        present = set(WaterSample.model_validate(record).indicators())
        assert present == set(water.AUTOMATIC_INDICATORS)
    assert len(automatic) == len(national) * 6 * 3


def test_manual_samples_are_monthly_and_arrive_days_late() -> None:
    """Over 2025, every section's monthly manual sample arrives ≥ 1 day (in fact 3–8 days) after sampling."""
    lags = []
    for section in registry().sections:
        spec = water.Section(section.id, section.kind, section.target_class, automatic=False)
        for month in range(1, 13):
            taken, reported = water.manual_sample(1, spec, 2025, month, ZONE)
            assert taken.month == month and taken.weekday() < 5
            lags.append(reported - taken)
    assert min(lags) >= timedelta(days=1)
    # and the scenario posts each in the hour its report arrives: every section within March's first 24 days
    scenario = Scenario(registry(), 1, datetime(2025, 3, 1, tzinfo=ZONE), ZONE, ())
    manual = []
    for step in range(24 * 24):
        end = scenario.step_end(step)
        for _, record in scenario.water(end - timedelta(hours=1), end):
            if record["method"] == "manual":
                manual.append((end, record))
    assert {r["section"] for _, r in manual} == {s.id for s in registry().sections}
    for posted, record in manual:
        assert posted - datetime.fromisoformat(str(record["sampled_at"])) >= timedelta(days=1)


def test_sections_meet_their_target_class_without_incidents() -> None:
    for record in records("water", incidents=False):
        target = WaterClass.parse(section(str(record["section"])).target_class)
        result = classify_section(water.section_class_values(record), str(record["kind"]))
        assert result.meets(target), (record, result.limiting)


# --- waste -----------------------------------------------------------------------------------------------------------


def test_daily_totals_are_the_sum_of_deliveries() -> None:
    plant = waste.Plant("wj-wte-phase2", "incineration", ("household", "residual"), 2880.0)
    day = date(2025, 6, 3)
    plan = waste.day_plan(1, plant, day, ZONE)
    totals = {r["waste_kind"]: r for r in waste.daily_totals(1, plant, day, ZONE)}
    for kind in plant.accepts:
        assert totals[kind]["received_tonnes"] == pytest.approx(sum(d.tonnes for d in plan if d.kind == kind))
    received = sum(float(r["received_tonnes"]) for r in totals.values())
    assert 0.7 * plant.capacity <= received <= plant.capacity
    residual = totals["residual"]
    treated = float(residual["sorted_treated_tonnes"]) / float(residual["sorted_collected_tonnes"])
    assert 0.99 < treated <= 1.0
    assert all(d.tonnes <= 16 for d in plan) and len({d.ticket for d in plan}) == len(plan)


def test_hazardous_plant_receives_on_weekdays_and_burns_every_day() -> None:
    plant = waste.Plant("wj-hazwaste", "incineration", ("hazardous",), 200.0)
    saturday, monday = date(2025, 6, 7), date(2025, 6, 9)
    assert waste.day_plan(1, plant, saturday, ZONE) == ()
    assert waste.day_plan(1, plant, monday, ZONE)
    (sat,) = waste.daily_totals(1, plant, saturday, ZONE)
    assert sat["received_tonnes"] == 0 and float(sat["incinerated_tonnes"]) > 100


def test_waste_feed_has_deliveries_and_daily_totals_per_department() -> None:
    kinds = {(b.department, r["period"]) for _, b in run() if b.feed == "waste" for r in b.records}
    assert kinds == {
        ("urban-management", "delivery"),
        ("urban-management", "day"),
        ("environment", "delivery"),
        ("environment", "day"),
    }


# --- incidents -------------------------------------------------------------------------------------------------------


def _incident(kind: type) -> object:
    return next(i for i in DEFAULT_INCIDENTS if isinstance(i, kind))


def test_pollution_episode_keeps_its_readme_timing() -> None:
    episode = _incident(PollutionEpisode)
    assert episode == PollutionEpisode("wj-songling", start_hour=24, hours=30, level=130.0)
    values = {
        step: float(r["pm25"])
        for step, b in run()
        if b.feed == "air" and not b.malformed
        for r in b.records
        if r["station"] == "wj-songling" and "revision" not in r
    }
    assert all(v > 100 for step, v in values.items() if 24 <= step < 54)
    assert all(v < 80 for step, v in values.items() if step < 24 or step >= 54)


# Starts (UTC) at which the first hours of wj-songling (seed 7) are above the 24 h limit: judging the mean of those
# few hours paged once before the episode, which is how test_scripted_incidents failed in CI on 2026-11-28.
EARLY_HIGH_STARTS = ("2026-11-24T15:00:00+00:00", "2026-11-25T12:00:00+00:00")


@pytest.mark.parametrize(
    "start",
    [
        *(datetime.fromisoformat(s) for s in EARLY_HIGH_STARTS),
        # Then one start every 10 days and 1 hour: every season, and the start hour moves round the clock.
        *(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=241 * k) for k in range(37)),
    ],
    ids=str,
)
def test_the_pm25_episode_is_the_only_page_at_its_station_whatever_the_start(start: datetime) -> None:
    """The premise of tests/integration/test_scripted_incidents.py, which starts the simulator (seed 7) 5 days
    before the wall clock: through the real air stage, rule and lifecycle, the episode fires and resolves once."""
    episode = _incident(PollutionEpisode)
    assert isinstance(episode, PollutionEpisode)
    scenario = Scenario(registry(), 7, start, ZONE, DEFAULT_INCIDENTS)
    hourly = [
        float(r["pm25"])
        for step in range(episode.start_hour + episode.hours + 24)
        for station, r in scenario.air(step)
        if station == episode.station and "revision" not in r
    ]
    transitions, judged = pm25_24h_transitions(hourly, start, episode.station)
    assert transitions == ["firing", "resolved"]
    assert min(judged) >= 20  # GB 3095 Table 4: no 24 h mean of fewer hours is judged


def test_degraded_section_falls_below_its_target_only_in_its_window() -> None:
    incident = _incident(SectionDegradation)
    assert isinstance(incident, SectionDegradation)
    target = WaterClass.parse(section(incident.section).target_class)
    begin, end = incident.window(START)
    inside: list[WaterClass] = []
    outside: list[WaterClass] = []
    for record in records("water"):
        if record["section"] != incident.section:
            continue
        at = datetime.fromisoformat(str(record["sampled_at"]))
        result = classify_section(water.section_class_values(record), str(record["kind"]))
        (inside if begin < at <= end else outside).append(result.water_class)
    assert inside and outside
    assert all(c == target + incident.classes_worse for c in inside)
    assert all(c <= target for c in outside)


def test_silent_station_sends_nothing_in_its_window() -> None:
    silent = _incident(SilentSensor)
    assert isinstance(silent, SilentSensor) and silent.hours == 12
    steps = {step for step, b in run() if b.feed == "air" for r in b.records if r["station"] == silent.station}
    window = set(range(silent.start_hour, silent.start_hour + silent.hours))
    assert not steps & window
    assert set(range(STEPS)) - window <= steps
    quiet = {
        step for step, b in run(incidents=False) if b.feed == "air" for r in b.records if r["station"] == silent.station
    }
    assert quiet == set(range(STEPS))


def test_plant_over_capacity_for_one_day_only() -> None:
    incident = _incident(PlantOverCapacity)
    assert isinstance(incident, PlantOverCapacity)
    capacity = plant(incident.plant).capacity_t_per_day
    received: dict[str, float] = defaultdict(float)
    for record in records("waste"):
        if record["plant"] == incident.plant and record["period"] == "day":
            received[str(record["date"])] += float(record["received_tonnes"])
    over_day = (START.date() + timedelta(days=incident.day)).isoformat()
    assert received[over_day] > capacity
    assert all(t <= capacity for day, t in received.items() if day != over_day)
    assert len(received) == 3


def test_malformed_batch_is_one_record_with_a_unit_slip() -> None:
    incident = _incident(MalformedBatch)
    assert isinstance(incident, MalformedBatch)
    malformed = [(step, b) for step, b in run() if b.malformed]
    assert [step for step, _ in malformed] == [incident.hour]
    (record,) = malformed[0][1].records
    assert record["station"] == incident.station and record["co_unit"] == "µg/m³"
    with pytest.raises(ValueError, match="co_unit"):
        parse_record("air", record)
    assert not [b for _, b in run(incidents=False) if b.malformed]


def test_correction_resends_the_spiked_reading_with_revision_1() -> None:
    incident = _incident(Correction)
    assert isinstance(incident, Correction)
    sent = [
        (step, r)
        for step, b in run()
        if b.feed == "air"
        for r in b.records
        if r["station"] == incident.station and not b.malformed
    ]
    original = next(r for step, r in sent if step == incident.observed_hour)
    (correction,) = [(step, r) for step, r in sent if r.get("revision") == 1]
    assert correction[0] == incident.resend_hour
    fixed = correction[1]
    assert fixed["observed_at"] == original["observed_at"]
    assert parse_record("air", fixed).event_id == parse_record("air", original).event_id
    assert float(original["pm25"]) == pytest.approx(incident.spike * float(fixed["pm25"]), abs=0.2)


def test_incidents_on_unknown_sites_are_left_out() -> None:
    scenario = Scenario(registry(), 1, START, ZONE, (SilentSensor("nowhere", 0), SilentSensor("wj-ws-fenhu", 0)))
    assert scenario.incidents == ()
    assert len(scenario.skipped) == 2
