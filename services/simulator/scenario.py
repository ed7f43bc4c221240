"""What the simulator publishes at each simulated hour: every registry site's records, incidents applied. Pure.

Step `n` covers the simulated hour (start + n h, start + n+1 h]; its batches are what a department would post at
the end of that hour: hourly air readings, automatic water samples due in the hour and manual samples whose
laboratory report arrives in it, bus counts of the hour's four 15-minute intervals, weighbridge deliveries of the
hour, and the previous local day's totals (waste at 01:00, mode share at 02:00 local time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from citywatch.feeds import FEEDS, SimulatedHour
from citywatch.site_registry import CalendarGapError, Registry
from services.simulator import air, bus, waste, water
from services.simulator.incidents import (
    DEFAULT_INCIDENTS,
    Correction,
    Incident,
    MalformedBatch,
    PlantOverCapacity,
    PollutionEpisode,
    SectionDegradation,
    SilentSensor,
)

log = logging.getLogger("citywatch.simulator")

STEP = timedelta(hours=1)
WASTE_TOTALS_AT = time(1, 0)
MODE_SHARE_AT = time(2, 0)

INCIDENT_FEED: dict[type, str] = {
    PollutionEpisode: "air",
    SilentSensor: "air",
    MalformedBatch: "air",
    Correction: "air",
    SectionDegradation: "water",
    PlantOverCapacity: "waste",
}

Record = dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """Records one department posts for one feed at simulated time `at`."""

    at: datetime
    department: str
    feed: str
    records: list[Record] = field(hash=False)
    malformed: bool = False  # a scripted malformed batch: the gateway is expected to answer 422


def _warn_calendar_gap(day: date) -> None:
    log.warning(
        "the holiday calendar (chinesecalendar and the registry) does not know %d: "
        "bus days of that year count as workday/weekend only",
        day.year,
    )


class Scenario:
    """The registry's sites, the seed, the start and the incidents: everything the output depends on."""

    def __init__(
        self,
        registry: Registry,
        seed: int,
        start: datetime,
        zone: tzinfo,
        incidents: tuple[Incident, ...] = DEFAULT_INCIDENTS,
        on_calendar_gap: Callable[[date], None] = _warn_calendar_gap,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        self.registry = registry
        self.seed = seed
        self.start = start
        self.zone = zone
        self._on_gap = on_calendar_gap
        self._gap_years: set[int] = set()
        self.skipped: list[str] = []  # why incidents or sites were left out (for the log)
        self.incidents = tuple(i for i in incidents if self._applicable(i))

        self.stations = [s.id for s in registry.stations]
        self.sections = [
            water.Section(s.id, s.kind, s.target_class, automatic=s.level == "national") for s in registry.sections
        ]
        self.routes: list[tuple[str, str, list[tuple[str, str]]]] = []
        for route in registry.routes:
            vehicles = [(v.id, str(v.energy_type)) for v in registry.fleet if v.route == route.id]
            if vehicles:
                self.routes.append((route.id, str(route.route_type), vehicles))
            else:
                self.skipped.append(f"bus route {route.id}: no vehicle of the fleet runs on it")
        self.plants = [waste.Plant(p.id, p.process, tuple(p.accepts), p.capacity_t_per_day) for p in registry.plants]
        self.areas = [a.id for a in registry.areas]
        self.start_day = start.astimezone(zone).date()

    def _applicable(self, incident: Incident) -> bool:
        feed = INCIDENT_FEED[type(incident)]
        if not self.registry.has_site(incident.site) or self.registry.site(incident.site).feed != feed:
            self.skipped.append(f"{type(incident).__name__}: no {feed} site {incident.site!r} in the registry")
            return False
        return True

    # --- time ------------------------------------------------------------------------------------------------------
    def step_end(self, step: int) -> datetime:
        return self.start + STEP * (step + 1)

    def day_type(self, day: date) -> str:
        """The holiday calendar's day type; in a year it does not know, workday or weekend by the weekday."""
        try:
            return self.registry.day_type(day)
        except CalendarGapError:
            if day.year not in self._gap_years:
                self._gap_years.add(day.year)
                self._on_gap(day)
            return "workday" if day.weekday() < 5 else "weekend"

    def _local_marks(self, begin: datetime, end: datetime, at: time) -> list[date]:
        """Local days whose `at` o'clock falls in (begin, end]."""
        days = {begin.astimezone(self.zone).date(), end.astimezone(self.zone).date()}
        return sorted(d for d in days if begin < datetime.combine(d, at, self.zone) <= end)

    # --- everything of one step ------------------------------------------------------------------------------------
    def emissions(self, step: int) -> list[Batch]:
        """The batches posted at the end of step `step`, grouped by department and feed, in a fixed order."""
        begin, end = self.step_end(step) - STEP, self.step_end(step)
        grouped: dict[tuple[str, str], list[Record]] = {}

        def add(feed: str, site: str, record: Record) -> None:
            grouped.setdefault((feed, self.registry.owner_of(site)), []).append(record)

        extra: list[Batch] = []
        for site, record in self.air(step):
            add("air", site, record)
        for incident in self.incidents:
            if isinstance(incident, MalformedBatch) and incident.hour == step:
                good = air.reading(self.seed, incident.station, end, self.zone)
                owner = self.registry.owner_of(incident.station)
                extra.append(Batch(end, owner, "air", [air.with_unit_slip(good)], malformed=True))
        for site, record in self.water(begin, end):
            add("water", site, record)
        for site, record in self.bus(begin, end):
            add("bus", site, record)
        for site, record in self.mode_share(begin, end):
            add("mode_share", site, record)
        for site, record in self.waste(begin, end):
            add("waste", site, record)
        for name, feed in FEEDS.items():  # a feed that says how to simulate itself
            if feed.simulate is not None:
                hour = SimulatedHour(self.seed, self.registry.sites_for_feed(name), begin, end, self.zone)
                for site, record in feed.simulate(hour):
                    add(name, site, record)
        order = list(FEEDS)
        batches = [
            Batch(end, department, feed, records)
            for (feed, department), records in sorted(grouped.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))
        ]
        return batches + extra

    # --- per feed --------------------------------------------------------------------------------------------------
    def _air_reading(self, station: str, step: int, spike: float = 1.0) -> Record:
        level = next(
            (
                i.level
                for i in self.incidents
                if isinstance(i, PollutionEpisode) and i.station == station and i.covers(step)
            ),
            None,
        )
        return air.reading(self.seed, station, self.step_end(step), self.zone, episode_level=level, spike=spike)

    def air(self, step: int) -> list[tuple[str, Record]]:
        out: list[tuple[str, Record]] = []
        for station in self.stations:
            if any(isinstance(i, SilentSensor) and i.station == station and i.covers(step) for i in self.incidents):
                continue
            spike = 1.0
            for i in self.incidents:
                if isinstance(i, Correction) and i.station == station and i.observed_hour == step:
                    spike = i.spike
            out.append((station, self._air_reading(station, step, spike)))
        for i in self.incidents:
            if isinstance(i, Correction) and i.resend_hour == step:
                out.append((i.station, {**self._air_reading(i.station, i.observed_hour), "revision": 1}))
        return out

    def _degrade(self, section: str, at: datetime) -> int:
        return max(
            (
                i.classes_worse
                for i in self.incidents
                if isinstance(i, SectionDegradation) and i.section == section and i.covers_time(self.start, at)
            ),
            default=0,
        )

    def water(self, begin: datetime, end: datetime) -> list[tuple[str, Record]]:
        out: list[tuple[str, Record]] = []
        local_hour = end.astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
        for section in self.sections:
            if section.automatic and begin < local_hour <= end and local_hour.hour in water.AUTOMATIC_HOURS:
                degrade = self._degrade(section.id, local_hour)
                out.append((section.id, water.sample(self.seed, section, local_hour, self.zone, "automatic", degrade)))
            for year, month in water.months_before(end.astimezone(self.zone).date(), 2):
                taken, reported = water.manual_sample(self.seed, section, year, month, self.zone)
                if begin < reported <= end:
                    degrade = self._degrade(section.id, taken)
                    out.append((section.id, water.sample(self.seed, section, taken, self.zone, "manual", degrade)))
        return out

    def bus(self, begin: datetime, end: datetime) -> list[tuple[str, Record]]:
        out: list[tuple[str, Record]] = []
        interval = begin
        while interval + bus.INTERVAL <= end:
            day_type = self.day_type(interval.astimezone(self.zone).date())
            for route, route_type, vehicles in self.routes:
                for vehicle, energy in vehicles:
                    record = bus.ridership(self.seed, route, route_type, vehicle, energy, interval, self.zone, day_type)
                    if record is not None:
                        out.append((route, record))
            interval += bus.INTERVAL
        return out

    def mode_share(self, begin: datetime, end: datetime) -> list[tuple[str, Record]]:
        out: list[tuple[str, Record]] = []
        for day in self._local_marks(begin, end, MODE_SHARE_AT):
            previous = day - timedelta(days=1)
            day_type = self.day_type(previous)
            out.extend((area, bus.mode_share(self.seed, area, previous, day_type)) for area in self.areas)
        return out

    def capacity_factor(self, plant: str, day: date) -> float | None:
        for i in self.incidents:
            if isinstance(i, PlantOverCapacity) and i.plant == plant and self.start_day + timedelta(days=i.day) == day:
                return i.factor
        return None

    def waste(self, begin: datetime, end: datetime) -> list[tuple[str, Record]]:
        out: list[tuple[str, Record]] = []
        days = sorted({begin.astimezone(self.zone).date(), end.astimezone(self.zone).date()})
        for plant in self.plants:
            for day in days:
                plan = waste.day_plan(self.seed, plant, day, self.zone, self.capacity_factor(plant.id, day))
                out.extend((plant.id, waste.delivery_record(plant, d)) for d in plan if begin < d.at <= end)
            for day in self._local_marks(begin, end, WASTE_TOTALS_AT):
                previous = day - timedelta(days=1)
                factor = self.capacity_factor(plant.id, previous)
                out.extend((plant.id, r) for r in waste.daily_totals(self.seed, plant, previous, self.zone, factor))
        return out
