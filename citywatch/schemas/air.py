"""Air-quality readings as departments publish them, and the pieces every feed schema shares.

Field names follow FIWARE Smart Data Models `Environment/AirQualityObserved` where one fits:

| here | AirQualityObserved | note |
|---|---|---|
| `station` | `refPointOfInterest` / entity id | a site id from the registry |
| `observed_at` | `dateObserved` | end of the averaging period, with a UTC offset |
| `observed_from`, `observed_to` | `dateObservedFrom`, `dateObservedTo` | the period itself (either names it) |
| `pm25`, `pm10`, `o3`, `no2`, `so2`, `co` | same names | value in the unit of `<name>_unit` |
| `<name>_unit` | `unitCode` metadata (GQ = µg/m³, GP = mg/m³) | checked, never converted |
| `averaging_period` | — | "1h" (hourly value) or "24h" (daily mean) |
| `quality_flags` | — (FIWARE has `reliability` 0–1) | HJ 212-2017 instrument data flags per pollutant |

Shared by all feeds (water, bus, waste import them from here): `derive_event_id`, `SiteId`, the unit types
(`UgM3`, `MgM3`, `MgL`, ...) that accept a few spellings of *the same* unit and refuse any other unit, and
`unit_given_with_value`, which makes `<name>_unit` required whenever `<name>` is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from citywatch.schemas.feed_record import FeedRecord

SCHEMA_VERSION: Literal[3] = 3
"""2 added the averaging period, PM10/O3/NO2/SO2/CO with units and quality flags; 3 the explicit period
(`observed_from`/`observed_to`, FIWARE's dateObservedFrom/dateObservedTo). Versions 1 and 2 stay valid."""

PERIODS: Mapping[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
"""The averaging periods a reading may hold, and their length."""

FIRST_YEAR, LAST_YEAR = 1000, 9998
"""Years a record's times may have: four digits, as every bucket's name has them ("2025-03", "2025Q1"), with a day
either side still in Python's calendar (year 9999 overflows it at the first step). Which years count at all is the
clocks' business (`citywatch.intake.clock`)."""


def _representable_instant(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PydanticCustomError(
            "out_of_range",
            "{value} is outside the years {first}–{last} citywatch can represent; check the year",
            {"value": value.isoformat(), "first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return value


def _representable_day(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "out_of_range",
            "{value} is outside the years {first}–{last} citywatch can represent; check the year",
            {"value": value.isoformat(), "first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable_instant)]
"""A point in time with its UTC offset, in a year citywatch can compute with."""
Day = Annotated[date, AfterValidator(_representable_day)]
"""A calendar day, in a year citywatch can compute with."""
_INSTANT: TypeAdapter[datetime] = TypeAdapter(Instant)

SiteId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A registry id (station, section, route, plant, area, stop, vehicle): ASCII letters, digits, `_.-`."""

# Spellings of one unit that mean exactly the same thing (micro sign or Greek mu, ³ or 3, the UN/CEFACT code
# FIWARE uses). They are normalised to the canonical symbol; a different unit is refused, never converted.
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "µg/m³": ("µg/m³", "µg/m3", "μg/m³", "μg/m3", "ug/m³", "ug/m3", "GQ"),
    "mg/m³": ("mg/m³", "mg/m3", "GP"),
    "mg/L": ("mg/L", "mg/l", "M1"),
    "µg/L": ("µg/L", "µg/l", "μg/L", "μg/l", "ug/L", "ug/l"),
    "count/L": ("count/L", "count/l", "个/L", "个/l", "MPN/L", "CFU/L"),
    "µS/cm": ("µS/cm", "μS/cm", "uS/cm"),
    "NTU": ("NTU", "ntu"),
    "°C": ("°C", "℃", "CEL"),
    "m": ("m", "MTR"),
}
UNIT_SPELLINGS: Mapping[str, str] = {spelling: unit for unit, spellings in _SPELLINGS.items() for spelling in spellings}


def _unit(expected: str) -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str):
            return value  # the Literal check reports it
        if UNIT_SPELLINGS.get(value.strip()) != expected:
            raise PydanticCustomError(
                "wrong_unit",
                "unit must be {expected}; values in other units are refused, never converted",
                {"expected": expected},
            )
        return expected

    return BeforeValidator(check)


UgM3 = Annotated[Literal["µg/m³"], _unit("µg/m³")]
MgM3 = Annotated[Literal["mg/m³"], _unit("mg/m³")]
MgL = Annotated[Literal["mg/L"], _unit("mg/L")]
UgL = Annotated[Literal["µg/L"], _unit("µg/L")]
CountPerL = Annotated[Literal["count/L"], _unit("count/L")]
UsPerCm = Annotated[Literal["µS/cm"], _unit("µS/cm")]
Ntu = Annotated[Literal["NTU"], _unit("NTU")]
Celsius = Annotated[Literal["°C"], _unit("°C")]
Metre = Annotated[Literal["m"], _unit("m")]


def unit_given_with_value(units: Mapping[str, str]) -> Callable[[str | None, ValidationInfo], str | None]:
    """A field validator for `<quantity>_unit` fields: required when `<quantity>` is given (never assumed).

    Use with `Field(None, validate_default=True)` on the unit field, declared after its quantity.
    """

    def check(value: str | None, info: ValidationInfo) -> str | None:
        name = info.field_name or ""
        quantity = name.removesuffix("_unit")
        if value is None and info.data.get(quantity) is not None:
            raise PydanticCustomError(
                "missing",
                "required when {quantity} is given ({expected}); units are checked, never assumed",
                {"quantity": quantity, "expected": units[quantity]},
            )
        return value

    return check


Pollutant = Literal["pm25", "pm10", "o3", "no2", "so2", "co"]

QualityFlag = Literal["N", "F", "M", "S", "D", "C", "T", "B"]
"""HJ 212-2017 data flags: N normal, F stopped, M maintenance, S manual input, D fault, C calibration,
T over the instrument's range, B communication failure."""

VALID_FLAGS: frozenset[str] = frozenset({"N"})
"""Flags whose value counts as a valid hour for the GB 3095 data-validity rules."""

AIR_UNITS: Mapping[str, str] = {
    "pm25": "µg/m³",
    "pm10": "µg/m³",
    "o3": "µg/m³",
    "no2": "µg/m³",
    "so2": "µg/m³",
    "co": "mg/m³",
}
"""The unit of each pollutant (GB 3095 / HJ 633): µg/m³, except CO in mg/m³."""

# Upper bounds sit above the top of HJ 633's IAQI-500 breakpoints: a larger value is far more likely a unit
# slip (CO sent in µg/m³, say) than a measurement, and it is refused with the field named.


def _either_end_or_period(schema: dict[str, Any]) -> None:
    """The JSON Schema says what validation does: observed_at, or observed_from / observed_to, is required."""
    schema["required"] = [name for name in schema.get("required", []) if name != "observed_at"]
    schema["anyOf"] = [{"required": ["observed_at"]}, {"required": ["observed_from"]}, {"required": ["observed_to"]}]


class AirReading(FeedRecord):
    """One observation from one station: PM2.5 and, when measured, PM10, O3, NO2, SO2 and CO.

    `pm25_unit` defaults to µg/m³ (version 1 had only that field); every other pollutant needs its unit.

    A reading states its period by its end (`observed_at`, Chinese practice: hour-ending) or explicitly
    (`observed_from` and/or `observed_to`); either way the record carries all three once validated, and the same
    hour is the same reading (same derived event id) whichever way it came.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_either_end_or_period)
    site_field: ClassVar[str] = "station"
    time_field: ClassVar[str] = "observed_at"

    schema_version: Literal[1, 2, 3] = Field(SCHEMA_VERSION, description="Schema version; 1 and 2 are still accepted")
    station: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Station id")
    observed_at: Instant = Field(
        description="End of the averaging period (hour or day), ISO 8601 with a UTC offset (hour-ending: an hourly "
        "value stamped 09:00 covers 08:00–09:00); or give the period as observed_from/observed_to"
    )
    averaging_period: Literal["1h", "24h"] = Field(
        "1h", description="What the values are: hourly values (1h) or daily means (24h) ending at observed_at"
    )
    observed_from: Instant | None = Field(
        None,
        description="Start of the averaging period (FIWARE dateObservedFrom): hour-beginning data (stamped 08:00 "
        "for 08:00–09:00) send their stamp here. Filled in from observed_at when not sent",
    )
    observed_to: Instant | None = Field(
        None, description="End of the averaging period (FIWARE dateObservedTo), the same as observed_at"
    )
    pm25: float = Field(ge=0, le=5000, allow_inf_nan=False, description="PM2.5 concentration")
    pm25_unit: UgM3 = Field("µg/m³", description="Unit of pm25; only µg/m³ is accepted")
    pm10: float | None = Field(None, ge=0, le=5000, allow_inf_nan=False, description="PM10 concentration")
    pm10_unit: UgM3 | None = Field(None, validate_default=True, description="Unit of pm10: µg/m³")
    o3: float | None = Field(None, ge=0, le=2000, allow_inf_nan=False, description="O3 concentration")
    o3_unit: UgM3 | None = Field(None, validate_default=True, description="Unit of o3: µg/m³")
    no2: float | None = Field(None, ge=0, le=4000, allow_inf_nan=False, description="NO2 concentration")
    no2_unit: UgM3 | None = Field(None, validate_default=True, description="Unit of no2: µg/m³")
    so2: float | None = Field(None, ge=0, le=10000, allow_inf_nan=False, description="SO2 concentration")
    so2_unit: UgM3 | None = Field(None, validate_default=True, description="Unit of so2: µg/m³")
    co: float | None = Field(None, ge=0, le=200, allow_inf_nan=False, description="CO concentration")
    co_unit: MgM3 | None = Field(None, validate_default=True, description="Unit of co: mg/m³ (not µg/m³)")
    quality_flags: dict[Pollutant, QualityFlag] = Field(
        default_factory=dict,
        description="HJ 212-2017 instrument data flag per pollutant (N normal, F stopped, M maintenance, "
        "S manual input, D fault, C calibration, T over range, B communication failure); absent means N",
    )
    event_id: str = Field("", max_length=128, description="Publisher's id; derived from station and time if empty")
    revision: int = Field(0, ge=0, description="A correction re-sends the same reading with a higher revision")

    _units_given = field_validator("pm10_unit", "o3_unit", "no2_unit", "so2_unit", "co_unit")(
        unit_given_with_value(AIR_UNITS)
    )

    @model_validator(mode="before")
    @classmethod
    def _end_from_period(cls, data: Any) -> Any:
        """`observed_at` from `observed_to`, or from `observed_from` + the averaging period, when not sent."""
        if not isinstance(data, dict) or data.get("observed_at") is not None:
            return data
        if data.get("observed_to") is not None:
            return {**data, "observed_at": data["observed_to"]}
        period = PERIODS.get(str(data.get("averaging_period", "1h")))
        if data.get("observed_from") is not None and period is not None:
            try:
                start = _INSTANT.validate_python(data["observed_from"])
            except ValidationError:
                return data  # observed_from's own validation reports it
            return {**data, "observed_at": start + period}
        return data

    @field_validator("observed_from")
    @classmethod
    def _period_long(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        end, period = info.data.get("observed_at"), PERIODS.get(str(info.data.get("averaging_period")))
        if value is not None and end is not None and period is not None and end - value != period:
            raise PydanticCustomError(
                "period_length",
                "must be {period} before the period's end {end} (averaging_period {name})",
                {"period": str(period), "end": end.isoformat(), "name": info.data.get("averaging_period")},
            )
        return value

    @field_validator("observed_to")
    @classmethod
    def _same_end(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        end = info.data.get("observed_at")
        if value is not None and end is not None and value != end:
            raise PydanticCustomError(
                "period_end", "must equal observed_at ({end}): both name the period's end", {"end": end.isoformat()}
            )
        return value

    @model_validator(mode="after")
    def _derive_event_id(self) -> AirReading:
        if self.observed_to is None:
            object.__setattr__(self, "observed_to", self.observed_at)
        if self.observed_from is None:
            object.__setattr__(self, "observed_from", self.observed_at - PERIODS[self.averaging_period])
        if not self.event_id:
            quantity = "pm25" if self.averaging_period == "1h" else f"pm25@{self.averaging_period}"
            object.__setattr__(self, "event_id", derive_event_id(self.station, self.observed_at, quantity))
        return self

    def flag(self, pollutant: Pollutant) -> QualityFlag:
        """The instrument's data flag for a pollutant; N (normal) when none was sent."""
        return self.quality_flags.get(pollutant, "N")


TimeConvention = Literal["hour-ending", "hour-beginning"]
"""Which instant of its period a file's timestamps name: the end (Chinese practice, `observed_at`) or the beginning
(US EPA AQS and AirNow, most CSV exports). Stated by the publisher, never guessed (standards.md)."""
TIME_CONVENTIONS: tuple[TimeConvention, ...] = ("hour-ending", "hour-beginning")


def restamped(record: dict[str, Any], convention: TimeConvention) -> dict[str, Any]:
    """A raw air record whose `observed_at` was written in `convention`, with its period stated as the schema
    reads it: an hour-beginning stamp is the period's start (`observed_from`). A record that already names its
    period explicitly is left as it is."""
    if convention == "hour-ending" or "observed_at" not in record or {"observed_from", "observed_to"} & record.keys():
        return record
    out = {k: v for k, v in record.items() if k != "observed_at"}
    out["observed_from"] = record["observed_at"]
    return out


def derive_event_id(site: str, observed_at: datetime, quantity: str) -> str:
    """A deterministic id: the same site, instant and quantity always give the same id."""
    instant = observed_at.timestamp()
    digest = hashlib.sha256(f"{site}|{instant:.3f}|{quantity}".encode()).hexdigest()
    return digest[:32]
