"""GB 3838-2002 Table 1 limits (classes I–V) and the evaluation method of 环办[2011]22号.

Source: standards.md §3. Units mg/L, except pH (none) and fecal coliform (count/L). Limits are inclusive: a value
meets a class when <= its limit (DO: >=; pH: within 6–9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from citywatch.standards.versions import NO_LOWER_BOUND, Source

GB3838_2002 = Source("GB 3838", "2002", NO_LOWER_BOUND, None, "GB 3838-2002 Table 1 (standards.md §3)")
EVALUATION_METHOD = Source(
    "环办[2011]22号", "2011", NO_LOWER_BOUND, None, "地表水环境质量评价办法(试行) (standards.md §3)"
)

MG_L = "mg/L"


@dataclass(frozen=True, slots=True)
class Indicator:
    id: str  # input name, e.g. "nh3n"
    name: str  # as the standard writes it
    unit: str
    kind: str  # "max": value <= limit; "min": value >= limit (DO); "range": low <= value <= high (pH)
    limits: tuple[Decimal, ...]  # classes I … V; for "range" the (low, high) pair valid for every class
    lake_limits: tuple[Decimal, ...] | None = None  # lakes and reservoirs, when they differ (TP)
    in_class: bool = True  # one of the 21 indicators that set a section's class
    lake_only: bool = False  # evaluated only for lakes and reservoirs (TN)
    exceedance_multiple: bool = True  # temperature, pH and DO get no exceedance multiple

    def limits_for(self, kind: str) -> tuple[Decimal, ...]:
        return self.lake_limits if kind == "lake" and self.lake_limits is not None else self.limits


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


_INDICATORS = (
    Indicator("ph", "pH", "", "range", _d("6", "9"), exceedance_multiple=False),
    Indicator("do", "溶解氧 DO", MG_L, "min", _d("7.5", "6", "5", "3", "2"), exceedance_multiple=False),
    Indicator("codmn", "高锰酸盐指数 CODMn", MG_L, "max", _d("2", "4", "6", "10", "15")),
    Indicator("cod", "化学需氧量 COD", MG_L, "max", _d("15", "15", "20", "30", "40")),
    Indicator("bod5", "五日生化需氧量 BOD5", MG_L, "max", _d("3", "3", "4", "6", "10")),
    Indicator("nh3n", "氨氮 NH3-N", MG_L, "max", _d("0.15", "0.5", "1.0", "1.5", "2.0")),
    Indicator(
        "tp",
        "总磷 TP",
        MG_L,
        "max",
        _d("0.02", "0.1", "0.2", "0.3", "0.4"),
        lake_limits=_d("0.01", "0.025", "0.05", "0.1", "0.2"),
    ),
    Indicator("tn", "总氮 TN", MG_L, "max", _d("0.2", "0.5", "1.0", "1.5", "2.0"), in_class=False, lake_only=True),
    Indicator("cu", "铜 Cu", MG_L, "max", _d("0.01", "1", "1", "1", "1")),
    Indicator("zn", "锌 Zn", MG_L, "max", _d("0.05", "1", "1", "2", "2")),
    Indicator("f", "氟化物 F⁻", MG_L, "max", _d("1.0", "1.0", "1.0", "1.5", "1.5")),
    Indicator("se", "硒 Se", MG_L, "max", _d("0.01", "0.01", "0.01", "0.02", "0.02")),
    Indicator("as", "砷 As", MG_L, "max", _d("0.05", "0.05", "0.05", "0.1", "0.1")),
    Indicator("hg", "汞 Hg", MG_L, "max", _d("0.00005", "0.00005", "0.0001", "0.001", "0.001")),
    Indicator("cd", "镉 Cd", MG_L, "max", _d("0.001", "0.005", "0.005", "0.005", "0.01")),
    Indicator("cr6", "铬(六价) Cr(VI)", MG_L, "max", _d("0.01", "0.05", "0.05", "0.05", "0.1")),
    Indicator("pb", "铅 Pb", MG_L, "max", _d("0.01", "0.01", "0.05", "0.05", "0.1")),
    Indicator("cn", "氰化物 CN⁻", MG_L, "max", _d("0.005", "0.05", "0.2", "0.2", "0.2")),
    Indicator("phenol", "挥发酚", MG_L, "max", _d("0.002", "0.002", "0.005", "0.01", "0.1")),
    Indicator("petroleum", "石油类", MG_L, "max", _d("0.05", "0.05", "0.05", "0.5", "1.0")),
    Indicator("las", "阴离子表面活性剂 LAS", MG_L, "max", _d("0.2", "0.2", "0.2", "0.3", "0.3")),
    Indicator("sulfide", "硫化物", MG_L, "max", _d("0.05", "0.1", "0.2", "0.5", "1.0")),
    Indicator(
        "fecal_coliform", "粪大肠菌群", "count/L", "max", _d("200", "2000", "10000", "20000", "40000"), in_class=False
    ),
)

INDICATORS: Mapping[str, Indicator] = MappingProxyType({i.id: i for i in _INDICATORS})
CLASS_INDICATORS = tuple(i.id for i in _INDICATORS if i.in_class)  # the 21 evaluation indicators

# Section rating by class (I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染), index = class 1 … 6
RATINGS: tuple[tuple[str, str], ...] = (
    ("优", "blue"),
    ("优", "blue"),
    ("良好", "green"),
    ("轻度污染", "yellow"),
    ("中度污染", "orange"),
    ("重度污染", "red"),
)

MAIN_POLLUTANTS_ABOVE_CLASS = 3  # main pollutants are named when a section is worse than III
MAIN_POLLUTANT_COUNT = 3
PRIORITY_POLLUTANTS = frozenset({"cn", "pb", "cr6", "cd", "hg", "as", "cu", "zn"})
"""Cyanide and the heavy metals (and arsenic): when one is worse than class III it is listed first among the main
pollutants (环办[2011]22号: "氰化物或铅、铬等重金属超标时，优先作为主要污染指标列出"; standards.md §0b, as quoted in a
third-party implementation)."""
EXCEEDANCE_REFERENCE_CLASS = 3  # exceedance multiple = (C − class III limit) / class III limit


@dataclass(frozen=True, slots=True)
class BasinRatingRule:
    """River/basin rating with >= `min_sections` sections, by the I–III share and the 劣V share (standards.md §3)."""

    min_sections: int
    excellent_at: Fraction  # I–III share >= this: 优
    good_at: Fraction  # I–III share >= this: 良好
    moderate_worse_v_at: Fraction  # else: 劣V share >= this: 中度污染 (below: 轻度污染)
    heavy_worse_v_at: Fraction  # else: 劣V share >= this: 重度污染


BASIN_RATING = BasinRatingRule(
    min_sections=5,
    excellent_at=Fraction(90, 100),
    good_at=Fraction(75, 100),
    moderate_worse_v_at=Fraction(20, 100),
    heavy_worse_v_at=Fraction(40, 100),
)

# Time aggregation: samples needed before a period's mean may be classified (standards.md §3).
MIN_SAMPLES: Mapping[str, int] = MappingProxyType({"week": 1, "ten_days": 1, "month": 1, "quarter": 2, "year": 1})


# Measured at sections (the "9+X" basic indicators, lake TLI inputs) but setting no GB 3838 class.
MONITORED_NOT_CLASSIFIED = ("temperature", "conductivity", "turbidity", "chla", "sd")
