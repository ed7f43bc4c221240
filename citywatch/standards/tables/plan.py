"""The Wujiang District 14th Five-Year Plan's numeric targets (plan-indicators.md), quoted with their clause.

The plan gives no numeric air or water target: those are configuration (see `citywatch.standards.targets`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from citywatch.standards.versions import Source

DIRECTIONS = ("at_least", "at_most", "about")


@dataclass(frozen=True, slots=True)
class Target:
    """A target value: `direction` "at_least" (the indicator must be >= value, > when `strict`), "at_most"
    (<=, < when strict) or "about" (the plan gives no tolerance)."""

    id: str
    description: str
    value: Decimal
    unit: str
    direction: str
    strict: bool
    source: Source
    quote: str  # the plan's or standard's own words, or who configured the value
    due: dt.date | None
    lower_bound: Decimal | None  # the indicator can be no lower (0 for shares and tonnages)
    upper_bound: Decimal | None  # the indicator can be no higher (100 for shares in %)
    unverified: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction: expected one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if not self.source.clause.strip():
            raise ValueError(f"target {self.id!r}: a target needs its source")


WUJIANG_14FYP_FROM = dt.date(2021, 1, 1)
WUJIANG_14FYP_DUE = dt.date(2025, 12, 31)


def _plan(clause: str) -> Source:
    return Source(
        "Wujiang District 14th FYP and 2035 Vision Outline (adopted 2021-01-06)",
        "2021",
        WUJIANG_14FYP_FROM,
        None,
        f"{clause} (plan-indicators.md)",
    )


_PERCENT = (Decimal(0), Decimal(100))
_TONNAGE = (Decimal(0), None)

_TARGETS = (
    Target(
        "public_transport_share", "public-transport trip share", Decimal("35"), "%", "at_least", False,
        _plan("ch. 6 §4"), "公共交通出行率达到35%", WUJIANG_14FYP_DUE, *_PERCENT,
    ),
    Target(
        "clean_energy_bus_share", "clean-energy share of the bus fleet", Decimal("85"), "%", "at_least", False,
        _plan("ch. 6 §4"), "清洁能源公交车比例达到85%", WUJIANG_14FYP_DUE, *_PERCENT,
    ),
    Target(
        "town_village_bus_coverage", "town–village bus coverage", Decimal("100"), "%", "at_least", False,
        _plan("ch. 6 §4"), "镇村公交通达率保持100%", WUJIANG_14FYP_DUE, *_PERCENT,
    ),
    Target(
        "incineration_capacity", "household-waste incineration capacity", Decimal("3000"), "t/day", "at_least",
        False, _plan("ch. 8 §4"), "生活垃圾焚烧日处理能力达到3000吨", WUJIANG_14FYP_DUE, *_TONNAGE,
    ),
    Target(
        "sorted_waste_treatment_rate", "sorted-waste centralised treatment rate", Decimal("99"), "%", "at_least",
        True, _plan("ch. 8 §4"), "垃圾分类集中处理率超过99%", WUJIANG_14FYP_DUE, *_PERCENT,
    ),
    Target(
        "hazardous_incineration_capacity", "hazardous-waste incineration capacity", Decimal("70000"), "t/year",
        "about", False, _plan("ch. 8 §4"), "危废焚烧处置能力保持在每年7万吨左右", WUJIANG_14FYP_DUE, *_TONNAGE,
        note="'about' (左右): the plan gives no tolerance",
    ),
)  # fmt: skip

PLAN_TARGETS: Mapping[str, Target] = MappingProxyType({t.id: t for t in _TARGETS})
