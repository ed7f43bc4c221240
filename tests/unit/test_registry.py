"""The site registry: the shipped sample loads; every problem in a bad file is reported with file, line and path."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from citywatch.holiday_calendar import DayKind, official_calendar
from citywatch.schemas.bus import CLEAN_ENERGY
from citywatch.site_registry import (
    CalendarGapError,
    Registry,
    RegistryError,
    UnknownSiteError,
    WaterSection,
    load_registry,
)
from tools.devstack.config import REPO_ROOT

SAMPLE = REPO_ROOT / "registry" / "wujiang-sample.yaml"
SIMULATOR_STATIONS = {"wj-songling", "wj-shengze", "wj-lili", "wj-pingwang"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(SAMPLE)


@pytest.fixture
def raw() -> dict[str, Any]:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bad-registry.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    return [str(p) for p in info.value.problems]


# --- the shipped sample ------------------------------------------------------------------------------------------


def test_the_sample_loads_and_says_it_is_sample_data(registry: Registry) -> None:
    assert registry.sample_data is True
    assert SAMPLE.read_text(encoding="utf-8").lstrip("# =\n").startswith("SAMPLE DATA")
    assert {s.id for s in registry.stations} >= SIMULATOR_STATIONS
    assert len(registry.sections) == 11  # Wujiang's national/provincial assessment sections
    assert {s.kind for s in registry.sections} == {"river", "lake"}
    assert len(registry.routes) >= 5 and registry.fleet and len(registry.plants) >= 2


def test_every_site_has_names_coordinates_inside_wujiang_and_an_owner(registry: Registry) -> None:
    departments = {d.id for d in registry.departments}
    for site in registry.all_sites():
        assert site.name_zh and site.name_en
        assert 120.35 <= site.lon <= 120.95 and 30.75 <= site.lat <= 31.25, site.id
        assert site.department in departments
        assert site.feed in registry.department(site.department).feeds


def test_lookups(registry: Registry) -> None:
    section = registry.site("wj-ws-taipu-pingwang")
    assert isinstance(section, WaterSection) and section.target_class == "II" and section.river == "太浦河"
    assert registry.owner_of("wj-songling") == "environment"
    assert registry.owner_of("wj-bus-701") == "transport"
    assert {s.id for s in registry.sites_of("urban-management")} == {"wj-wte-phase2", "wj-food-waste"}
    assert {s.id for s in registry.sites_for_feed("mode_share")} == {"wj-district"}
    assert len(registry.sites_for_feed("water")) == 11
    assert registry.has_site("wj-lili") and not registry.has_site("nowhere")
    with pytest.raises(UnknownSiteError, match="nowhere"):
        registry.site("nowhere")
    assert registry.vehicle("wj-v-701-01").energy_type in CLEAN_ENERGY
    with pytest.raises(KeyError, match="unknown department 'police'"):
        registry.department("police")


@pytest.mark.parametrize(
    ("department", "feed", "site", "allowed"),
    [
        ("environment", "air", "wj-songling", True),
        ("environment", "water", "wj-ws-fenhu", True),
        ("environment", "waste", "wj-hazwaste", True),
        ("environment", "waste", "wj-wte-phase2", False),  # urban management's plant
        ("transport", "air", "wj-songling", False),  # not its feed
        ("environment", "water", "wj-songling", False),  # its site, but an air station
        ("transport", "mode_share", "wj-district", True),
        ("transport", "bus", "nowhere", False),
        ("police", "air", "wj-songling", False),
    ],
)
def test_may_publish(registry: Registry, department: str, feed: str, site: str, allowed: bool) -> None:
    assert registry.may_publish(department, feed, site) is allowed


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2025, 10, 8), "holiday"),  # National Day and Mid-Autumn
        (date(2025, 9, 28), "workday"),  # a Sunday worked (调休)
        (date(2025, 10, 11), "workday"),  # a Saturday worked
        (date(2025, 10, 12), "weekend"),
        (date(2025, 10, 13), "workday"),
        (date(2025, 1, 29), "holiday"),  # Spring Festival
        (date(2026, 2, 17), "holiday"),
        (date(2026, 1, 4), "workday"),
    ],
)
def test_holiday_calendar(registry: Registry, day: date, kind: str) -> None:
    assert registry.day_type(day) == kind
    assert registry.is_holiday(day) is (kind == "holiday")


def test_holiday_names_and_uncovered_years(registry: Registry) -> None:
    assert registry.holiday_name(date(2025, 5, 1)) == "Labour Day"
    assert registry.holiday_name(date(2025, 5, 6)) is None
    assert not registry.covers(date(2031, 1, 1))  # a year no chinesecalendar release has yet
    with pytest.raises(CalendarGapError, match="no year 2031"):
        registry.is_holiday(date(2031, 1, 1))
    with pytest.raises(CalendarGapError, match="no year 2031"):
        registry.holiday_name(date(2031, 1, 1))


def test_the_sample_types_no_official_years_by_hand(registry: Registry) -> None:
    """The official schedule comes from chinesecalendar (issue 17: the sample's 2025 and 2026 dates were typed in,
    2026 "as recalled"); the registry adds only what the package lacks."""
    assert "as recalled" not in SAMPLE.read_text(encoding="utf-8")
    assert not [y.year for y in registry.calendar if y.year <= 2026]


def test_complete_registry_years_the_package_also_has_agree_with_it(registry: Registry) -> None:
    """A year added from the State Council's notice before chinesecalendar had it: once the package has it too, the
    two must say the same (then the registry's copy can go)."""
    official = official_calendar()
    for year in (y for y in registry.calendar if y.complete and official.knows(y.year)):
        first = date(year.year, 1, 1)
        for day in (first + timedelta(days=n) for n in range((date(year.year + 1, 1, 1) - first).days)):
            assert registry.calendar_day(day).kind is official.kind(day), day


def local_holiday(first: date, last: date | None = None, name: str = "District day") -> dict[str, Any]:
    return {"name_zh": name, "name_en": name, "first": first, "last": last or first}


def test_the_registry_adds_days_and_a_complete_year(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["calendar"] = [
        {
            "year": 2026,
            "source": "吴江区 local notice (test)",
            "holidays": [local_holiday(date(2026, 3, 9))],  # a Monday
            "workdays": [date(2026, 3, 14)],  # a Saturday
        },
        {
            "year": 2027,
            "source": "State Council notice for 2027 (test dates, not the real schedule)",
            "complete": True,
            "holidays": [local_holiday(date(2027, 2, 6), date(2027, 2, 12), "Spring Festival")],
            "workdays": [date(2027, 2, 20)],
        },
    ]
    registry = load_registry(write(tmp_path, raw))
    assert registry.day_type(date(2026, 3, 9)) == "holiday"
    special = registry.calendar_day(date(2026, 3, 9)).special
    assert special is not None and special.source == "吴江区 local notice (test)"
    assert registry.day_type(date(2026, 3, 14)) == "workday"
    assert registry.calendar_day(date(2026, 3, 14)).kind is DayKind.MAKEUP_WORKDAY
    assert registry.day_type(date(2026, 2, 17)) == "holiday", "the package's days stay"
    assert registry.covers(date(2027, 6, 1))
    assert registry.day_type(date(2027, 2, 8)) == "holiday"
    assert registry.holiday_name(date(2027, 2, 8)) == "Spring Festival"
    assert registry.day_type(date(2027, 2, 20)) == "workday"
    assert registry.day_type(date(2027, 2, 21)) == "weekend"
    assert registry.holiday_calendar.known_until(date(2026, 12, 5)) == date(2027, 12, 31)


def test_a_local_day_alone_does_not_make_its_year_known(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["calendar"] = [{"year": 2031, "source": "local (test)", "holidays": [local_holiday(date(2031, 3, 10))]}]
    registry = load_registry(write(tmp_path, raw))
    assert not registry.covers(date(2031, 3, 10))
    with pytest.raises(CalendarGapError, match="no year 2031"):
        registry.day_type(date(2031, 3, 10))


def test_a_complete_year_without_holidays_is_a_problem(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["calendar"] = [{"year": 2027, "source": "test", "complete": True, "workdays": [date(2027, 2, 20)]}]
    (problem,) = problems_of(write(tmp_path, raw))
    assert "calendar[0].complete: 2027 is marked complete (the whole schedule) but has no holidays" in problem


# --- every problem reported, with file, line and path -------------------------------------------------------------


def test_every_problem_is_reported_with_file_and_path(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["stations"].append(dict(raw["stations"][0]))  # duplicate id wj-songling
    raw["stations"][1]["department"] = "police"  # unknown department
    raw["sections"][2]["target_class"] = "VI"  # no such GB 3838 class
    raw["sections"][3]["lon"] = 121.47  # Shanghai, outside the bounds
    raw["plants"][0]["lat"] = 95  # not a latitude at all
    raw["routes"][0]["department"] = "environment"  # does not publish the bus feed
    raw["fleet"][0]["route"] = "wj-bus-999"  # unknown route
    raw["calendar"] = [{"year": 2025, "source": "test", "workdays": [date(2025, 10, 13)]}]  # a Monday: not make-up
    path = write(tmp_path, raw)

    problems = problems_of(path)
    text = "\n".join(problems)
    assert all(p.startswith(f"{path}:") for p in problems)
    assert "stations[5].id: duplicate site id 'wj-songling' (first at stations[0].id)" in text
    assert "stations[1].department: unknown department 'police'" in text
    assert "sections[2].target_class: Input should be 'I', 'II', 'III', 'IV' or 'V'" in text
    assert "sections[3].lon: longitude 121.47 is outside the registry's bounds" in text
    assert "plants[0].lat: Input should be less than or equal to 90" in text
    assert "routes[0].department: department 'environment' does not publish the bus feed" in text
    assert "fleet[0].route: unknown route 'wj-bus-999'" in text
    assert "calendar[0].workdays[0]: 2025-10-13 is a Monday" in text
    assert len(problems) == 8


def test_problems_carry_the_line_of_the_bad_value(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["sections"][4]["target_class"] = "VI"
    path = write(tmp_path, raw)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    (problem,) = info.value.problems
    assert problem.path == "sections[4].target_class" and problem.line is not None
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "target_class: VI" in lines[problem.line - 1]


def test_missing_fields_and_unknown_keys(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["sections"][0]["kind"]
    raw["plants"][1]["capacity"] = 10  # misspelt key
    raw["plants"][1]["capacity_t_per_day"] = 0
    problems = "\n".join(problems_of(write(tmp_path, raw)))
    assert "sections[0].kind: Field required" in problems
    assert "plants[1].capacity: Extra inputs are not permitted" in problems
    assert "plants[1].capacity_t_per_day: Input should be greater than 0" in problems


def test_duplicate_departments_vehicles_and_overlapping_holidays(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["departments"].append(dict(raw["departments"][0]))
    raw["fleet"].append(dict(raw["fleet"][0]))
    raw["calendar"] = [
        {
            "year": 2025,
            "source": "test",
            "holidays": [local_holiday(date(2025, 10, 8)), local_holiday(date(2025, 10, 8))],
        },
        # a Sunday both a holiday and a make-up workday
        {
            "year": 2026,
            "source": "test",
            "holidays": [local_holiday(date(2026, 2, 15))],
            "workdays": [date(2026, 2, 15)],
        },
    ]
    problems = "\n".join(problems_of(write(tmp_path, raw)))
    assert "departments[3].id: duplicate id 'environment'" in problems
    assert "fleet[12].id: duplicate vehicle id 'wj-v-701-01'" in problems
    assert "calendar[0].holidays[1]: 2025-10-08 is already a holiday" in problems
    assert "calendar[1].workdays[0]: 2026-02-15 is also a holiday" in problems


def test_yaml_syntax_errors_are_reported_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("sample_data: true\nstations: [\n  {id: a\n", encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:") and "YAML syntax" in problem


def test_an_empty_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert problems_of(path)


def test_a_large_registry_read_in_a_child_process_is_the_same_registry(
    tmp_path: Path, raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`load_registry_compact` (the worker's: the parse's garbage stays in the child, issue 18 item 5) gives what
    `load_registry` gives, and a broken file's problems with their lines."""
    from citywatch.site_registry import loader

    path = write(tmp_path, raw)
    monkeypatch.setattr(loader, "IN_CHILD_ABOVE_BYTES", 0)
    assert loader.load_registry_compact(path) == load_registry(path)
    raw["sections"][4]["target_class"] = "VI"
    broken = write(tmp_path, raw)
    with pytest.raises(RegistryError) as info:
        loader.load_registry_compact(broken)
    (problem,) = info.value.problems
    assert problem.path == "sections[4].target_class"
    assert "target_class: VI" in broken.read_text(encoding="utf-8").splitlines()[problem.line - 1]
