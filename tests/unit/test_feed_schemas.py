"""Contract tests of the feed schemas: what each feed accepts, what it refuses (with the field named), ids, JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from citywatch.feeds import (
    FEED_NAMES,
    FEEDS,
    SCHEMA_VERSIONS,
    UnknownFeedError,
    feed_of,
    json_schemas,
    model_for,
    parse_record,
)
from citywatch.schemas.air import AirReading, derive_event_id
from citywatch.schemas.bus import BusRidership, ModeShareRecord
from citywatch.schemas.dead_letter import field_errors
from citywatch.schemas.feed_record import site_and_time
from citywatch.schemas.waste import WasteRecord
from citywatch.schemas.water import WaterSample
from tests.feed_examples import VALID


def rejected_fields(feed: str, record: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as info:
        FEEDS[feed].record.model_validate(record)
    errors = field_errors(info.value)
    assert all(e.reason for e in errors)
    return {e.field for e in errors}


def reasons(feed: str, record: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        FEEDS[feed].record.model_validate(record)
    return {e.field: e.reason for e in field_errors(info.value)}


def with_(feed: str, **changes: Any) -> dict[str, Any]:
    record = {**VALID[feed], **changes}
    return {k: v for k, v in record.items() if v is not ...}


# --- accepted ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEED_NAMES)
def test_valid_examples_are_accepted_and_round_trip(feed: str) -> None:
    record = parse_record(feed, VALID[feed])
    again = parse_record(feed, record.model_dump_json())
    assert again == record
    assert record.event_id and record.revision == 0
    assert feed_of(record) == feed


def test_version_1_air_readings_stay_valid() -> None:
    minimal = {"station": "s1", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 10}
    reading = AirReading.model_validate(minimal)
    assert reading.pm25_unit == "µg/m³" and reading.averaging_period == "1h" and reading.pm10 is None
    assert reading.event_id == derive_event_id("s1", reading.observed_at, "pm25")
    assert AirReading.model_validate({**minimal, "schema_version": 1}).schema_version == 1


def test_the_same_unit_in_another_spelling_is_accepted_and_normalised() -> None:
    reading = AirReading.model_validate(
        with_("air", pm25_unit="μg/m³", pm10_unit="ug/m3", o3_unit="GQ", co_unit="mg/m3", quality_flags={})
    )
    assert (reading.pm25_unit, reading.pm10_unit, reading.o3_unit, reading.co_unit) == (
        "µg/m³",
        "µg/m³",
        "µg/m³",
        "mg/m³",
    )
    sample = WaterSample.model_validate(with_("water", unit="M1", fecal_coliform_unit="MPN/L"))
    assert (sample.unit, sample.fecal_coliform_unit) == ("mg/L", "count/L")


def test_water_reports_the_indicators_present() -> None:
    sample = WaterSample.model_validate(VALID["water"])
    assert sample.indicators()["NH3N"] == 0.35 and "COD" not in sample.indicators()
    ph_only = WaterSample.model_validate(
        {k: VALID["water"][k] for k in ("section", "sampled_at", "kind", "method")} | {"pH": 7.0}
    )
    assert ph_only.indicators() == {"pH": 7.0}


def test_waste_day_records_and_mode_share() -> None:
    day = WasteRecord.model_validate(
        with_("waste", period="day", delivered_at=..., ticket=..., date="2025-01-02", incinerated_tonnes=2700.0)
    )
    assert day.date == date(2025, 1, 2)
    share = ModeShareRecord.model_validate(VALID["mode_share"])
    assert share.share == pytest.approx(0.32)


def test_air_quality_flags() -> None:
    reading = AirReading.model_validate(VALID["air"])
    assert reading.flag("o3") == "C" and reading.flag("pm25") == "N"
    assert rejected_fields("air", with_("air", quality_flags={"o3": "X"})) == {"quality_flags.o3"}
    assert rejected_fields("air", with_("air", quality_flags={"pm1": "N"})) == {"quality_flags.pm1.[key]"}


# --- refused, with the field named -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "field"),
    [
        ("air", "observed_at"),
        ("water", "sampled_at"),
        ("bus", "interval_start"),
        ("bus", "interval_end"),
        ("waste", "delivered_at"),
    ],
)
def test_a_time_without_timezone_is_refused(feed: str, field: str) -> None:
    naive = str(VALID[feed][field])[:19]
    found = reasons(feed, with_(feed, **{field: naive}))
    assert field in found and "timezone" in found[field]


@pytest.mark.parametrize(
    ("feed", "field", "value"),
    [
        ("air", "pm25", -1),
        ("air", "pm10", -0.1),
        ("air", "co", -1),
        ("air", "pm25", "nan"),
        ("air", "revision", -1),
        ("water", "NH3N", -0.01),
        ("water", "pH", 15),
        ("water", "fecal_coliform", -5),
        ("bus", "boardings", -1),
        ("bus", "alightings", -3),
        ("bus", "boardings", 2.5),
        ("mode_share", "public_transport_trips", -1),
        ("mode_share", "all_trips", 0),
        ("waste", "received_tonnes", -0.5),
        ("waste", "received_tonnes", "inf"),
    ],
)
def test_negative_and_impossible_values_are_refused(feed: str, field: str, value: object) -> None:
    assert field in rejected_fields(feed, with_(feed, **{field: value}))


@pytest.mark.parametrize(
    ("feed", "field", "unit"),
    [
        ("air", "co_unit", "µg/m³"),  # CO is in mg/m³ (GB 3095 / HJ 633)
        ("air", "pm10_unit", "mg/m³"),
        ("air", "pm25_unit", "mg/m³"),
        ("air", "no2_unit", "ppb"),
        ("water", "unit", "µg/L"),
        ("water", "fecal_coliform_unit", "MPN/100mL"),
        ("water", "Chla_unit", "mg/L"),
        ("water", "transparency_unit", "cm"),
    ],
)
def test_a_wrong_unit_is_refused_never_converted(feed: str, field: str, unit: str) -> None:
    found = reasons(feed, with_(feed, **{field: unit}))
    assert field in found
    assert "never converted" in found[field] and repr(unit) in found[field]


def test_co_in_micrograms_is_refused_twice_over() -> None:
    # A CO value in µg/m³ is both in the wrong unit and beyond any plausible mg/m³ concentration.
    assert rejected_fields("air", with_("air", co=800, co_unit="µg/m³")) == {"co", "co_unit"}


@pytest.mark.parametrize(
    ("feed", "value_field", "unit_field"),
    [("air", "co", "co_unit"), ("air", "pm10", "pm10_unit"), ("water", "NH3N", "unit"), ("water", "Chla", "Chla_unit")],
)
def test_a_unit_is_required_when_its_value_is_sent(feed: str, value_field: str, unit_field: str) -> None:
    found = reasons(feed, with_(feed, **{unit_field: ...}))
    assert unit_field in found and value_field in found[unit_field] and "never assumed" in found[unit_field]
    # a unit without its value is harmless
    FEEDS[feed].record.model_validate(with_(feed, **{value_field: ...}))


@pytest.mark.parametrize("end", ["2025-01-02T07:00:00+08:00", "2025-01-02T06:59:00+08:00", "2025-01-01T23:00:00Z"])
def test_a_bus_interval_must_end_after_it_starts(end: str) -> None:
    found = reasons("bus", with_("bus", interval_end=end))
    assert set(found) == {"interval_end"} and "after interval_start" in found["interval_end"]


def test_a_bus_interval_is_at_most_a_day() -> None:
    assert rejected_fields("bus", with_("bus", interval_end="2025-01-03T07:00:01+08:00")) == {"interval_end"}


def test_public_transport_trips_cannot_exceed_all_trips() -> None:
    found = reasons("mode_share", with_("mode_share", public_transport_trips=1_000_001))
    assert set(found) == {"public_transport_trips"} and "all_trips" in found["public_transport_trips"]
    ModeShareRecord.model_validate(with_("mode_share", public_transport_trips=1_000_000))  # 100 % is possible


@pytest.mark.parametrize("feed", FEED_NAMES)
def test_unknown_fields_are_refused(feed: str) -> None:
    assert rejected_fields(feed, with_(feed, colour="blue")) == {"colour"}


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"period": "day"}, {"delivered_at", "date"}),  # a day needs a date, not a delivery time
        ({"date": "2025-01-02"}, {"date"}),  # a delivery has no date
        ({"received_tonnes": 18_400}, {"received_tonnes"}),  # kilograms sent as tonnes
        ({"waste_kind": "glass"}, {"waste_kind"}),
        ({"received_tonnes": ...}, {"(record)"}),  # no tonnage at all
    ],
)
def test_waste_record_rules(changes: dict[str, Any], fields: set[str]) -> None:
    assert rejected_fields("waste", with_("waste", **changes)) == fields


def test_a_water_sample_needs_an_indicator_and_a_known_kind() -> None:
    bare = {k: VALID["water"][k] for k in ("section", "sampled_at", "kind", "method")}
    assert rejected_fields("water", bare) == {"(record)"}
    assert rejected_fields("water", with_("water", kind="sea")) == {"kind"}
    assert rejected_fields("water", with_("water", method="drone")) == {"method"}


@pytest.mark.parametrize(("feed", "field"), [("air", "station"), ("bus", "route"), ("waste", "plant")])
def test_site_ids_are_plain(feed: str, field: str) -> None:
    assert field in rejected_fields(feed, with_(feed, **{field: "bad id/with space"}))


# --- event ids, sites, event times -------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEED_NAMES)
def test_event_ids_are_deterministic_and_a_given_id_is_kept(feed: str) -> None:
    a, b = parse_record(feed, VALID[feed]), parse_record(feed, dict(VALID[feed]))
    assert a.event_id == b.event_id and len(a.event_id) == 32
    corrected = parse_record(feed, with_(feed, revision=1))
    assert corrected.event_id == a.event_id and corrected.revision == 1  # a correction replaces the same event
    assert parse_record(feed, with_(feed, event_id="publisher-42")).event_id == "publisher-42"


def test_event_ids_depend_on_the_instant_not_its_offset() -> None:
    utc = with_("water", sampled_at="2025-03-10T02:00:00Z")
    assert parse_record("water", utc).event_id == parse_record("water", VALID["water"]).event_id
    later = with_("water", sampled_at="2025-03-10T11:00:00+08:00")
    assert parse_record("water", later).event_id != parse_record("water", VALID["water"]).event_id


@pytest.mark.parametrize(
    ("feed", "changes"),
    [
        ("air", {"averaging_period": "24h"}),  # a daily mean is not the hourly value at the same time
        ("water", {"method": "automatic"}),  # a station reading and a manual sample at the same time
        ("bus", {"stop": "s-0701-06"}),
        ("bus", {"vehicle": "wj-v-701-02"}),
        ("bus", {"stop": ...}),
        ("waste", {"ticket": "T-20250102-0043"}),
        ("waste", {"waste_kind": "household"}),
        ("mode_share", {"source": "smart_card"}),
    ],
)
def test_different_observations_get_different_event_ids(feed: str, changes: dict[str, Any]) -> None:
    assert parse_record(feed, with_(feed, **changes)).event_id != parse_record(feed, VALID[feed]).event_id


def test_a_waste_day_and_a_delivery_at_the_same_instant_differ() -> None:
    delivery = with_("waste", delivered_at="2025-01-02T00:00:00Z", ticket=...)
    day = with_("waste", period="day", delivered_at=..., ticket=..., date="2025-01-02")
    assert parse_record("waste", delivery).event_id != parse_record("waste", day).event_id


def test_site_and_event_time_of_every_feed() -> None:
    cst = timezone(timedelta(hours=8))
    zone = ZoneInfo("Asia/Shanghai")
    expected = {
        "air": ("wj-songling", datetime(2025, 1, 1, 8, tzinfo=cst)),
        "water": ("wj-ws-fenhu", datetime(2025, 3, 10, 10, tzinfo=cst)),
        "bus": ("wj-bus-701", datetime(2025, 1, 2, 7, tzinfo=cst)),  # the interval's start
        "mode_share": ("wj-district", datetime(2025, 1, 2, tzinfo=zone)),  # local midnight
        "waste": ("wj-wte-phase2", datetime(2025, 1, 2, 9, 15, tzinfo=cst)),
    }
    for feed, (site, when) in expected.items():
        got_site, got_time = site_and_time(parse_record(feed, VALID[feed]), zone)
        assert (got_site, got_time) == (site, when), feed
        assert got_time.utcoffset() is not None
    share = parse_record("mode_share", VALID["mode_share"])
    assert site_and_time(share, UTC)[1] == datetime(2025, 1, 2, tzinfo=UTC)
    # the derived id of a daily record does not depend on the zone
    assert share.event_id == parse_record("mode_share", VALID["mode_share"]).event_id


# --- registry of feeds and their JSON Schemas --------------------------------------------------------------------


EXPECTED_REQUIRED = {
    "air": {"station", "pm25"},  # and one of observed_at, observed_from, observed_to (anyOf, tested below)
    "water": {"section", "sampled_at", "kind", "method"},
    "bus": {"route", "interval_start", "interval_end", "boardings", "vehicle", "energy_type"},
    "mode_share": {"area", "date", "all_trips", "public_transport_trips", "source"},
    "waste": {"plant", "period", "waste_kind"},
}


def test_every_feed_has_a_model_a_version_and_a_json_schema() -> None:
    schemas = json_schemas()
    assert set(FEEDS) == set(FEED_NAMES) == set(SCHEMA_VERSIONS) == set(schemas) == set(EXPECTED_REQUIRED)
    for feed, schema in schemas.items():
        assert set(schema["required"]) == EXPECTED_REQUIRED[feed], feed
        assert schema["additionalProperties"] is False
        assert {"event_id", "revision", "schema_version"} <= set(schema["properties"])
        assert schema["properties"]["schema_version"]["default"] == SCHEMA_VERSIONS[feed]
        assert all(p.get("description") or feed == "air" for p in schema["properties"].values() if "anyOf" in p)
        json.dumps(schema)  # serialisable as served by the API


def test_air_schema_requires_the_end_or_the_period() -> None:
    any_of = json_schemas()["air"]["anyOf"]
    assert {tuple(a["required"]) for a in any_of} == {("observed_at",), ("observed_from",), ("observed_to",)}


def test_json_schema_states_the_units() -> None:
    air = json_schemas()["air"]["properties"]
    assert air["co_unit"]["anyOf"][0]["const"] == "mg/m³"
    assert air["pm10_unit"]["anyOf"][0]["const"] == "µg/m³"
    assert json_schemas()["water"]["properties"]["unit"]["anyOf"][0]["const"] == "mg/L"


def test_unknown_feed_names_the_known_ones() -> None:
    with pytest.raises(UnknownFeedError, match="known feeds: air, water, bus, mode_share, waste"):
        model_for("noise")
    assert model_for("bus") is BusRidership
    assert isinstance(parse_record("air", json.dumps(VALID["air"]).encode()), AirReading)
