"""Scripted incidents: small declarative objects, timed in hours (or days) after the simulation start.

Each says what it changes and nothing else; the generators apply them (see `scenario.py`). Pure: no I/O.

| incident | what changes |
|---|---|
| `PollutionEpisode` | a station's PM2.5 sits near `level` for `hours` (fires the 24 h PM2.5 rule) |
| `SectionDegradation` | a water section's NH3-N, TP and DO fall `classes_worse` GB 3838 classes below its target |
| `SilentSensor` | a station sends nothing for `hours` |
| `PlantOverCapacity` | a plant receives `factor` × its design capacity on one local day |
| `MalformedBatch` | one extra air batch holding a record with a unit slip (CO in µg/m³): the gateway answers 422 |
| `Correction` | one air reading is first sent with an instrument spike, later re-sent with revision 1 and the true value |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PollutionEpisode:
    """The station's hourly PM2.5 is raised to about `level` µg/m³ for the readings of steps [start_hour, +hours)."""

    station: str
    start_hour: int
    hours: int
    level: float

    @property
    def site(self) -> str:
        return self.station

    def covers(self, step: int) -> bool:
        return self.start_hour <= step < self.start_hour + self.hours


@dataclass(frozen=True)
class SectionDegradation:
    """Samples taken at the section in (start + start_hour, + days] are `classes_worse` classes below its target."""

    section: str
    start_hour: int
    days: float
    classes_worse: int = 2

    @property
    def site(self) -> str:
        return self.section

    def window(self, start: datetime) -> tuple[datetime, datetime]:
        begin = start + timedelta(hours=self.start_hour)
        return begin, begin + timedelta(days=self.days)

    def covers_time(self, start: datetime, at: datetime) -> bool:
        begin, end = self.window(start)
        return begin < at <= end


@dataclass(frozen=True)
class SilentSensor:
    """The station sends no reading for the steps [start_hour, start_hour + hours)."""

    station: str
    start_hour: int
    hours: int = 12

    @property
    def site(self) -> str:
        return self.station

    def covers(self, step: int) -> bool:
        return self.start_hour <= step < self.start_hour + self.hours


@dataclass(frozen=True)
class PlantOverCapacity:
    """On the local day `day` days after the start's local day, the plant receives `factor` × its capacity."""

    plant: str
    day: int
    factor: float = 1.12

    @property
    def site(self) -> str:
        return self.plant


@dataclass(frozen=True)
class MalformedBatch:
    """At step `hour`, one extra air batch with the station's reading sent with CO in µg/m³ (a unit slip)."""

    station: str
    hour: int

    @property
    def site(self) -> str:
        return self.station


@dataclass(frozen=True)
class Correction:
    """The reading of step `observed_hour` is sent spiked (× `spike`); at step `resend_hour` the true value is
    re-sent with revision 1 (same event id)."""

    station: str
    observed_hour: int
    resend_hour: int
    spike: float = 3.0

    @property
    def site(self) -> str:
        return self.station


Incident = PollutionEpisode | SectionDegradation | SilentSensor | PlantOverCapacity | MalformedBatch | Correction

# The README promises the PM2.5 episode at wj-songling fires within about three minutes of `make up`
# (3 days back at 720×: step 24 is reached after 2 minutes, the 24 h mean passes the limit ~12 steps later).
DEFAULT_INCIDENTS: tuple[Incident, ...] = (
    PollutionEpisode("wj-songling", start_hour=24, hours=30, level=130.0),
    MalformedBatch("wj-pingwang", hour=1),
    Correction("wj-shengze", observed_hour=1, resend_hour=4),
    # Late enough that a worker started beside the simulator is already keeping pace (at 720×, 4 minutes in):
    # staleness is judged on the worker's clock as it processes, not on a backlog it reads in one go.
    SilentSensor("wj-lili", start_hour=48, hours=12),
    SectionDegradation("wj-ws-lanxitang-shengze", start_hour=12, days=3),
    PlantOverCapacity("wj-wte-phase2", day=1, factor=1.12),
)
