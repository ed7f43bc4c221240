"""The site registry: departments, the sites each owns (air stations, water sections, bus routes, waste plants,
areas), the bus fleet, and the days it adds to China's holiday calendar. Pure: no I/O (see `loader.py`).

Every site has an id (the Kafka key and the `site` label), a Chinese and an English name, WGS 84 coordinates
(a representative point for a route or an area) and its owning department. A department may publish only the
feeds it lists, and only for the sites it owns (`Registry.may_publish`).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from citywatch.holiday_calendar import (
    CalendarDay,
    DayKind,
    HolidayCalendar,
    SpecialDay,
    official_calendar,
)
from citywatch.schemas.air import SiteId
from citywatch.schemas.bus import EnergyType
from citywatch.schemas.waste import WasteKind

TargetClass = Literal["I", "II", "III", "IV", "V"]
"""GB 3838-2002 water-quality class a section must meet (its 水质目标)."""

DayType = Literal["workday", "weekend", "holiday"]


def _known_feed(name: str) -> str:
    from citywatch.feeds import FEEDS  # the feeds are described above the registry (their sites are its models)

    if name not in FEEDS:
        raise ValueError(f"unknown feed {name!r}; known feeds: {', '.join(FEEDS)}")
    return name


FeedName = Annotated[str, AfterValidator(_known_feed)]
"""The name of a feed in the catalogue (`citywatch.feeds.FEEDS`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Strict):
    id: SiteId = Field(description="Department id, e.g. environment")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    feeds: list[FeedName] = Field(description="The feeds this department publishes")


class Bounds(_Strict):
    """The area every site must lie in (degrees, WGS 84)."""

    west: float = Field(ge=-180, le=180)
    east: float = Field(ge=-180, le=180)
    south: float = Field(ge=-90, le=90)
    north: float = Field(ge=-90, le=90)

    @field_validator("east")
    @classmethod
    def _east_of_west(cls, value: float, info: ValidationInfo) -> float:
        if "west" in info.data and value <= info.data["west"]:
            raise ValueError("east must be greater than west")
        return value

    @field_validator("north")
    @classmethod
    def _north_of_south(cls, value: float, info: ValidationInfo) -> float:
        if "south" in info.data and value <= info.data["south"]:
            raise ValueError("north must be greater than south")
        return value

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north


class Site(_Strict):
    """What every site has. `feed` is the feed whose records name this kind of site."""

    feed: ClassVar[str]

    id: SiteId
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees east (WGS 84)")
    lat: float = Field(ge=-90, le=90, description="Latitude, degrees north (WGS 84)")
    department: str = Field(description="Owning department id")


class AirStation(Site):
    feed: ClassVar[str] = "air"


class WaterSection(Site):
    feed: ClassVar[str] = "water"

    kind: Literal["river", "lake"]
    target_class: TargetClass
    river: str = Field(min_length=1, description="River or lake the section is on (Chinese name)")
    basin: str = Field(min_length=1, description="Basin, e.g. 太湖流域")
    level: Literal["national", "provincial"] = Field(description="国考 (national) or 省考 (provincial) section")


class BusRoute(Site):
    feed: ClassVar[str] = "bus"

    route_type: Literal["urban", "town", "town_village"] = Field(description="town_village = 镇村公交")


class WastePlant(Site):
    feed: ClassVar[str] = "waste"

    process: Literal["incineration", "biological", "recycling"]
    accepts: list[WasteKind] = Field(min_length=1, description="The waste kinds the plant takes")
    capacity_t_per_day: float = Field(gt=0, description="Design capacity, tonnes per day")


class Area(Site):
    """An area mode-share figures are reported for (e.g. the whole district)."""

    feed: ClassVar[str] = "mode_share"


class Vehicle(_Strict):
    id: SiteId
    route: str | None = Field(None, description="Route the vehicle usually runs on")
    energy_type: EnergyType


class Holiday(_Strict):
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    first: dt.date
    last: dt.date

    @field_validator("last")
    @classmethod
    def _not_before_first(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        if "first" in info.data and value < info.data["first"]:
            raise ValueError(f"last day is before the first ({info.data['first']})")
        return value

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class CalendarYear(_Strict):
    """Days one year adds to the official calendar (`chinesecalendar`): local holidays (days off) and make-up working
    days (调休: weekend days that are worked); they win over the package's answer for the same date. `complete` says
    they are the year's whole schedule, which makes a year the package lacks known (e.g. the State Council's notice
    for next year, published before a chinesecalendar release has it)."""

    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=1, description="Where the dates come from, e.g. the State Council notice")
    complete: bool = Field(False, description="The entries are the year's whole holiday schedule")
    holidays: list[Holiday] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list, description="Weekend days that are working days")


class UnknownSiteError(KeyError):
    def __init__(self, site_id: str) -> None:
        super().__init__(f"unknown site {site_id!r}: not in the registry")
        self.site_id = site_id


AnySite = AirStation | WaterSection | BusRoute | WastePlant | Area


class Registry(_Strict):
    """The whole registry file. Cross-references are checked by `loader.load_registry`."""

    sample_data: bool = Field(description="True when the contents are illustrative, not official")
    description: str = ""
    bounds: Bounds
    departments: list[Department]
    stations: list[AirStation] = Field(default_factory=list)
    sections: list[WaterSection] = Field(default_factory=list)
    routes: list[BusRoute] = Field(default_factory=list)
    fleet: list[Vehicle] = Field(default_factory=list)
    plants: list[WastePlant] = Field(default_factory=list)
    areas: list[Area] = Field(default_factory=list)
    calendar: list[CalendarYear] = Field(default_factory=list)

    # --- sites -------------------------------------------------------------------------------------------------
    @cached_property
    def _sites(self) -> dict[str, AnySite]:
        from citywatch.feeds import FEEDS

        lists = {feed.sites for feed in FEEDS.values()}
        every: list[AnySite] = [s for name in type(self).model_fields if name in lists for s in getattr(self, name)]
        return {s.id: s for s in every}

    def all_sites(self) -> list[AnySite]:
        return list(self._sites.values())

    def has_site(self, site_id: str) -> bool:
        return site_id in self._sites

    def site(self, site_id: str) -> AnySite:
        """The site with this id; UnknownSiteError when there is none."""
        try:
            return self._sites[site_id]
        except KeyError:
            raise UnknownSiteError(site_id) from None

    def owner_of(self, site_id: str) -> str:
        """The id of the department that owns a site."""
        return self.site(site_id).department

    def sites_of(self, department: str) -> list[AnySite]:
        return [s for s in self._sites.values() if s.department == department]

    def sites_for_feed(self, feed: str) -> list[AnySite]:
        return [s for s in self._sites.values() if s.feed == feed]

    # --- departments -------------------------------------------------------------------------------------------
    def department(self, department_id: str) -> Department:
        for d in self.departments:
            if d.id == department_id:
                return d
        raise KeyError(f"unknown department {department_id!r}; known: {', '.join(d.id for d in self.departments)}")

    def feeds_by_department(self) -> dict[str, set[str]]:
        """Which feeds each department publishes (and so which feed topics it may write)."""
        return {d.id: set(d.feeds) for d in self.departments}

    def may_publish(self, department: str, feed: str, site_id: str) -> bool:
        """True when the department publishes this feed, and owns the site, and the site belongs to the feed."""
        site = self._sites.get(site_id)
        dept = next((d for d in self.departments if d.id == department), None)
        return (
            dept is not None
            and feed in dept.feeds
            and site is not None
            and site.department == department
            and (site.feed == feed)
        )

    # --- fleet -------------------------------------------------------------------------------------------------
    @cached_property
    def _vehicles(self) -> dict[str, Vehicle]:
        return {v.id: v for v in self.fleet}

    def vehicle(self, vehicle_id: str) -> Vehicle:
        try:
            return self._vehicles[vehicle_id]
        except KeyError:
            raise KeyError(f"unknown vehicle {vehicle_id!r}: not in the registry's fleet") from None

    def has_vehicle(self, vehicle_id: str) -> bool:
        return vehicle_id in self._vehicles

    # --- holiday calendar --------------------------------------------------------------------------------------
    @cached_property
    def holiday_calendar(self) -> HolidayCalendar:
        """The official calendar (chinesecalendar) with this registry's days over it."""
        special: dict[dt.date, SpecialDay] = {}
        for year in self.calendar:
            for h in year.holidays:
                special |= {day: SpecialDay(DayKind.HOLIDAY, h.name_en, h.name_zh, year.source) for day in h.days()}
            for day in year.workdays:
                special[day] = SpecialDay(DayKind.MAKEUP_WORKDAY, "make-up workday", "调休上班", year.source)
        complete = [y.year for y in self.calendar if y.complete]
        return official_calendar().added(special, complete)

    def covers(self, day: dt.date) -> bool:
        """True when the calendar knows the day's year."""
        return self.holiday_calendar.knows(day.year)

    def calendar_day(self, day: dt.date) -> CalendarDay:
        """Workday, weekend, holiday or make-up workday, with the holiday's name and the entry's source.

        Raises CalendarGapError for a year the calendar does not know: a silent guess would skew bus baselines.
        """
        return self.holiday_calendar.day(day)

    def is_holiday(self, day: dt.date) -> bool:
        """True on a public-holiday day off (weekends inside a holiday period included); CalendarGapError for a
        year the calendar does not know."""
        return self.calendar_day(day).kind is DayKind.HOLIDAY

    def day_type(self, day: dt.date) -> DayType:
        """holiday, workday (Mon–Fri, or a make-up working weekend day) or weekend; CalendarGapError for a year the
        calendar does not know."""
        kind = self.calendar_day(day).kind
        if kind is DayKind.HOLIDAY:
            return "holiday"
        return "workday" if kind.is_workday else "weekend"

    def holiday_name(self, day: dt.date) -> str | None:
        """The holiday's English name on a holiday day off, else None; CalendarGapError for an unknown year."""
        return self.calendar_day(day).holiday_name
