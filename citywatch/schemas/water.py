"""Surface-water samples from assessment sections (国省考断面), by automatic station or manual sampling.

Field names follow FIWARE Smart Data Models `Environment/WaterQualityObserved` where it has the quantity, and
the GB 3838-2002 Table 1 abbreviation where it does not (FIWARE declares those through `measurand`):

| here | WaterQualityObserved | GB 3838 item | unit |
|---|---|---|---|
| `section` | `refPointOfInterest` / entity id | 断面 | registry id |
| `sampled_at` | `dateObserved` | 采样时间 | ISO 8601 with UTC offset |
| `temperature` | `temperature` | 水温 | °C (`temperature_unit`) |
| `pH` | `pH` | pH | unitless, 0–14 |
| `O2` | `O2` | 溶解氧 DO | mg/L |
| `CODMn`, `COD`, `BOD5` | measurand | 高锰酸盐指数, 化学需氧量, 五日生化需氧量 | mg/L |
| `NH3N` | measurand (FIWARE `NH4` is ammonium, not ammonia nitrogen as N) | 氨氮 | mg/L |
| `TP`, `TN` | measurand | 总磷, 总氮 | mg/L |
| `Cu`, `Zn`, `Se`, `As`, `Hg`, `Cd`, `Cr6`, `Pb` | measurand | 铜 锌 硒 砷 汞 镉 铬(六价) 铅 | mg/L |
| `fluoride`, `cyanide`, `volatile_phenol`, `petroleum`, `LAS`, `sulfide` | measurand | 氟化物 氰化物 挥发酚 石油类 阴离子表面活性剂 硫化物 | mg/L |
| `fecal_coliform` | measurand | 粪大肠菌群 | count/L (`fecal_coliform_unit`) |
| `Chla` | `Chla` | 叶绿素a (lakes, TLI) | µg/L (`Chla_unit`) |
| `transparency` | measurand | 透明度 SD (lakes, TLI) | m (`transparency_unit`) |
| `conductivity` | `conductivity` (S/m there) | 电导率 (9+X basic) | µS/cm (`conductivity_unit`) |
| `turbidity` | `turbidity` | 浊度 (9+X basic) | NTU (`turbidity_unit`) |

Every mg/L indicator shares `unit`, which must be "mg/L" and is required when any of them is sent; each other
unit has its own `<name>_unit`, required when `<name>` is sent. Units are checked, never converted.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from citywatch.schemas.air import (
    Celsius,
    CountPerL,
    Instant,
    Metre,
    MgL,
    Ntu,
    SiteId,
    UgL,
    UsPerCm,
    derive_event_id,
    unit_given_with_value,
)
from citywatch.schemas.feed_record import FeedRecord

SCHEMA_VERSION: Literal[1] = 1

MG_PER_L: tuple[str, ...] = (
    "O2",
    "CODMn",
    "COD",
    "BOD5",
    "NH3N",
    "TP",
    "TN",
    "Cu",
    "Zn",
    "fluoride",
    "Se",
    "As",
    "Hg",
    "Cd",
    "Cr6",
    "Pb",
    "cyanide",
    "volatile_phenol",
    "petroleum",
    "LAS",
    "sulfide",
)
"""The indicators measured in mg/L (their unit is the record's `unit`)."""

OTHER_UNITS: dict[str, str] = {
    "temperature": "°C",
    "fecal_coliform": "count/L",
    "Chla": "µg/L",
    "transparency": "m",
    "conductivity": "µS/cm",
    "turbidity": "NTU",
}
"""Indicators with their own unit field `<name>_unit`."""

INDICATORS: tuple[str, ...] = ("pH", *MG_PER_L, *OTHER_UNITS)
"""Every indicator a sample may carry."""


def _mgl(description: str) -> float | None:
    return Field(None, ge=0, le=100_000, allow_inf_nan=False, description=f"{description}, mg/L")


class WaterSample(FeedRecord):
    """The indicators measured in one sample (or one automatic-station reading) at one section."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site_field: ClassVar[str] = "section"
    time_field: ClassVar[str] = "sampled_at"

    schema_version: Literal[1] = SCHEMA_VERSION
    section: SiteId = Field(description="Section id from the registry")
    sampled_at: Instant = Field(description="When the water was sampled, ISO 8601 with a UTC offset")
    kind: Literal["river", "lake"] = Field(description="River or lake/reservoir: lakes use the lake TP limits")
    method: Literal["automatic", "manual"] = Field(description="Automatic station or manual (laboratory) sample")

    temperature: float | None = Field(None, ge=-5, le=50, allow_inf_nan=False, description="Water temperature")
    temperature_unit: Celsius | None = Field(None, validate_default=True, description="Unit of temperature: °C")
    pH: float | None = Field(None, ge=0, le=14, allow_inf_nan=False, description="pH (unitless)")
    O2: float | None = _mgl("Dissolved oxygen (DO)")
    CODMn: float | None = _mgl("Permanganate index")
    COD: float | None = _mgl("Chemical oxygen demand")
    BOD5: float | None = _mgl("Five-day biochemical oxygen demand")
    NH3N: float | None = _mgl("Ammonia nitrogen (as N)")
    TP: float | None = _mgl("Total phosphorus (as P)")
    TN: float | None = _mgl("Total nitrogen (as N; lakes)")
    Cu: float | None = _mgl("Copper")
    Zn: float | None = _mgl("Zinc")
    fluoride: float | None = _mgl("Fluoride (as F-)")
    Se: float | None = _mgl("Selenium")
    As: float | None = _mgl("Arsenic")
    Hg: float | None = _mgl("Mercury")
    Cd: float | None = _mgl("Cadmium")
    Cr6: float | None = _mgl("Chromium (hexavalent)")
    Pb: float | None = _mgl("Lead")
    cyanide: float | None = _mgl("Cyanide")
    volatile_phenol: float | None = _mgl("Volatile phenol")
    petroleum: float | None = _mgl("Petroleum")
    LAS: float | None = _mgl("Anionic surfactant (LAS)")
    sulfide: float | None = _mgl("Sulfide")
    unit: MgL | None = Field(
        None, validate_default=True, description="Unit of every mg/L indicator above: mg/L; required when any is sent"
    )
    fecal_coliform: float | None = Field(
        None, ge=0, le=1e9, allow_inf_nan=False, description="Fecal coliform (粪大肠菌群)"
    )
    fecal_coliform_unit: CountPerL | None = Field(None, validate_default=True, description="count/L (MPN/L, CFU/L)")
    Chla: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False, description="Chlorophyll a (lakes)")
    Chla_unit: UgL | None = Field(None, validate_default=True, description="Unit of Chla: µg/L")
    transparency: float | None = Field(None, ge=0, le=50, allow_inf_nan=False, description="Secchi depth (lakes)")
    transparency_unit: Metre | None = Field(None, validate_default=True, description="Unit of transparency: m")
    conductivity: float | None = Field(None, ge=0, le=100_000, allow_inf_nan=False, description="Conductivity")
    conductivity_unit: UsPerCm | None = Field(None, validate_default=True, description="Unit of conductivity: µS/cm")
    turbidity: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False, description="Turbidity")
    turbidity_unit: Ntu | None = Field(None, validate_default=True, description="Unit of turbidity: NTU")

    event_id: str = Field("", max_length=128, description="Publisher's id; derived from section, time, method if empty")
    revision: int = Field(0, ge=0, description="A correction re-sends the same sample with a higher revision")

    _units_given = field_validator(*(f"{name}_unit" for name in OTHER_UNITS))(unit_given_with_value(OTHER_UNITS))

    @field_validator("unit")
    @classmethod
    def _mgl_unit_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            sent = [name for name in MG_PER_L if info.data.get(name) is not None]
            if sent:
                raise PydanticCustomError(
                    "missing",
                    "required when an mg/L indicator is given ({sent}); units are checked, never assumed",
                    {"sent": ", ".join(sent)},
                )
        return value

    @model_validator(mode="after")
    def _complete(self) -> WaterSample:
        if not self.indicators():
            raise ValueError(f"no indicator given; send at least one of {', '.join(INDICATORS)}")
        if not self.event_id:
            object.__setattr__(self, "event_id", derive_event_id(self.section, self.sampled_at, f"water.{self.method}"))
        return self

    def indicators(self) -> dict[str, float]:
        """The indicators present in this sample, by field name."""
        values = {name: getattr(self, name) for name in INDICATORS}
        return {name: value for name, value in values.items() if value is not None}


STANDARD_NAMES: dict[str, str] = {
    "pH": "ph",
    "O2": "do",
    "CODMn": "codmn",
    "COD": "cod",
    "BOD5": "bod5",
    "NH3N": "nh3n",
    "TP": "tp",
    "TN": "tn",
    "Cu": "cu",
    "Zn": "zn",
    "fluoride": "f",
    "Se": "se",
    "As": "as",
    "Hg": "hg",
    "Cd": "cd",
    "Cr6": "cr6",
    "Pb": "pb",
    "cyanide": "cn",
    "volatile_phenol": "phenol",
    "petroleum": "petroleum",
    "LAS": "las",
    "sulfide": "sulfide",
    "fecal_coliform": "fecal_coliform",
    "temperature": "temperature",
    "conductivity": "conductivity",
    "turbidity": "turbidity",
    "Chla": "chla",
    "transparency": "sd",
}
"""Feed field (`WaterSample`) -> `citywatch.standards.classify_section` input name."""
