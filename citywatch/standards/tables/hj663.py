"""HJ 663 annual assessment: which statistic of which series is compared with which GB 3095 limit, the good-day
threshold, and the percentile method.

Source: standards.md §1 ("优良天数比例") and §2 ("Annual assessment (HJ 663-2013)"); HJ 663-2026 (from 2026-03-01):
its Table 1 annual evaluation items as standards.md §0b records them (PM2.5 and PM10 annual mean + 24 h P95, SO2 and
NO2 annual mean + 24 h P98, CO 24 h P95, O3 daily max 8 h P90). A good day is AQI <= 100 in both: the HJ 633
categories 优 and 良, unchanged in HJ 633-2026 (standards.md §1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from types import MappingProxyType

from citywatch.standards.versions import NO_LOWER_BOUND, Source

HJ663_2026_FROM = dt.date(2026, 3, 1)

PERCENTILE_UNVERIFIED = (
    "HJ 663 percentile method (ascending, k = 1 + (n−1)·p, linear between neighbours): marked 'verify' in issue 3"
)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One pass condition: `statistic` of the daily series must be <= the GB 3095 `limit_period` limit."""

    statistic: str  # "annual_mean" or "percentile"
    percentile: Fraction | None  # for "percentile": 0.95, 0.90
    limit_period: str  # "annual", "24h", "8h"

    @property
    def name(self) -> str:
        if self.percentile is None:
            return self.statistic
        return f"p{int(self.percentile * 100)}_{self.limit_period}"


@dataclass(frozen=True, slots=True)
class AssessmentRules:
    source: Source
    criteria: Mapping[str, tuple[Criterion, ...]]  # pollutant -> all must pass
    daily_series: Mapping[str, str]  # pollutant -> the daily value it is assessed on ("24h" means, "8h" daily max)
    good_day_max_aqi: int  # a good day (优良天) has daily AQI <= this
    unverified: str | None


_P98 = Fraction(98, 100)
_P95 = Fraction(95, 100)
_P90 = Fraction(90, 100)

HJ663_2013 = AssessmentRules(
    source=Source("HJ 663", "2013", NO_LOWER_BOUND, HJ663_2026_FROM, "HJ 663-2013 (standards.md §1-§2)"),
    criteria=MappingProxyType(
        {
            "pm25": (Criterion("annual_mean", None, "annual"), Criterion("percentile", _P95, "24h")),
            "o3": (Criterion("percentile", _P90, "8h"),),
            "co": (Criterion("percentile", _P95, "24h"),),
        }
    ),
    daily_series=MappingProxyType({"pm25": "24h", "o3": "8h", "co": "24h"}),
    good_day_max_aqi=100,
    unverified=None,
)

_ANNUAL = Criterion("annual_mean", None, "annual")

HJ663_2026 = replace(
    HJ663_2013,
    source=Source(
        "HJ 663", "2026", HJ663_2026_FROM, None, "HJ 663-2026 Table 1 annual evaluation items (standards.md §0b)"
    ),
    criteria=MappingProxyType(
        {
            "pm25": (_ANNUAL, Criterion("percentile", _P95, "24h")),
            "pm10": (_ANNUAL, Criterion("percentile", _P95, "24h")),
            "so2": (_ANNUAL, Criterion("percentile", _P98, "24h")),
            "no2": (_ANNUAL, Criterion("percentile", _P98, "24h")),
            "co": (Criterion("percentile", _P95, "24h"),),
            "o3": (Criterion("percentile", _P90, "8h"),),
        }
    ),
    daily_series=MappingProxyType({"pm25": "24h", "pm10": "24h", "so2": "24h", "no2": "24h", "co": "24h", "o3": "8h"}),
    unverified=None,
)

HJ663_TABLES = (HJ663_2013, HJ663_2026)
