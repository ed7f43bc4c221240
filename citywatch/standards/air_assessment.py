"""Air assessment over days (HJ 663): annual assessment against GB 3095, exceedance days, good-day share, and the
city daily AQI from station-averaged concentrations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from citywatch.standards.averages import annual_mean
from citywatch.standards.exact import Number, to_concentration
from citywatch.standards.gb3095 import Limit, gb3095_limit
from citywatch.standards.hj633 import AqiResult, aqi
from citywatch.standards.percentile import PERCENTILE_UNVERIFIED, percentile
from citywatch.standards.reporting import at_precision
from citywatch.standards.share import Share
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding
from citywatch.standards.tables.hj663 import HJ663_TABLES, AssessmentRules
from citywatch.standards.versions import select_version


def assessment_rules(on: dt.date) -> AssessmentRules:
    """The HJ 663 assessment rules that apply on the local date `on`."""
    return select_version(HJ663_TABLES, on, what="HJ 663 assessment rules")


@dataclass(frozen=True, slots=True)
class Statistic:
    name: str  # "annual_mean", "p95_24h", "p90_8h"
    value: Fraction | None  # None when the data do not allow it (invalid annual mean, no days)
    limit: Limit
    passes: bool | None  # value <= limit; None when value is None


@dataclass(frozen=True, slots=True)
class AnnualAssessment:
    pollutant: str
    year: int
    grade: str
    statistics: tuple[Statistic, ...]
    valid_days: int
    standard: str  # e.g. "HJ 663-2013 / GB 3095-2012"
    unverified: tuple[str, ...]

    @property
    def passes(self) -> bool | None:
        """True when every statistic meets its limit, False when one fails, None when one cannot be computed."""
        if any(s.passes is False for s in self.statistics):
            return False
        if any(s.passes is None for s in self.statistics):
            return None
        return True


def annual_assessment(
    pollutant: str,
    daily: Mapping[dt.date, Number | None],
    year: int,
    *,
    grade: str = "II",
    on: dt.date | None = None,
) -> AnnualAssessment:
    """Annual assessment of `pollutant` ("pm25", "o3", "co") from its daily series for `year`.

    `daily` holds 24 h means (PM2.5, CO) or O3 daily max 8 h means; None marks an invalid day. PM2.5 passes when the
    annual mean <= the annual limit and the 95th percentile of daily means <= the 24 h limit; O3 on the 90th percentile
    of daily max 8 h; CO on the 95th percentile of 24 h means. Limits and rules as in force on `on` (default: the
    year's last day).
    """
    when = on or dt.date(year, 12, 31)
    rules = assessment_rules(when)
    if pollutant not in rules.criteria:
        raise KeyError(
            f"no annual assessment rule for {pollutant!r} in standards.md; assessed pollutants: "
            f"{', '.join(rules.criteria)}"
        )
    values = [to_concentration(v, name=f"daily[{d.isoformat()}]") for d, v in sorted(daily.items()) if v is not None]
    unverified: list[str] = [] if rules.unverified is None else [rules.unverified]
    statistics: list[Statistic] = []
    for criterion in rules.criteria[pollutant]:
        limit = gb3095_limit(pollutant=pollutant, period=criterion.limit_period, grade=grade, on=when)
        if limit.unverified:
            unverified.append(f"{limit.label} {pollutant} {limit.period} Grade {grade} = {limit.value}: {limit.note}")
        value: Fraction | None
        if criterion.percentile is None:
            yearly = annual_mean(daily, year, when)
            unverified.extend(yearly.unverified)
            value = yearly.value
        else:
            unverified.append(PERCENTILE_UNVERIFIED)
            value = percentile(values, criterion.percentile) if values else None
        passes = None if value is None else value <= Fraction(limit.value)
        statistics.append(Statistic(criterion.name, value, limit, passes))
    return AnnualAssessment(
        pollutant=pollutant,
        year=year,
        grade=grade,
        statistics=tuple(statistics),
        valid_days=len(values),
        standard=f"{rules.source.label} / {statistics[0].limit.label}",
        unverified=tuple(dict.fromkeys(unverified)),
    )


@dataclass(frozen=True, slots=True)
class Exceedances:
    days: tuple[dt.date, ...]  # days above their day's limit
    valid_days: int
    unverified: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.days)


def exceedance_days(
    pollutant: str,
    period: str,
    daily: Mapping[dt.date, Number | None],
    *,
    grade: str = "II",
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> Exceedances:
    """Days whose value (24 h mean, or O3 daily max 8 h with period "8h") is above the GB 3095 limit of that day;
    with `rounding` "reported" the value is compared as reported (the AQI's rule: 60.4 is 60, not above 60)."""
    over: list[dt.date] = []
    unverified: list[str] = []
    valid = 0
    for day, value in sorted(daily.items()):
        if value is None:
            continue
        valid += 1
        limit = gb3095_limit(pollutant=pollutant, period=period, grade=grade, on=day)
        if limit.unverified:
            unverified.append(f"{limit.label} {pollutant} {period} Grade {grade} = {limit.value}: {limit.note}")
        if at_precision(to_concentration(value, name=f"daily[{day.isoformat()}]"), limit.unit, rounding) > Fraction(
            limit.value
        ):
            over.append(day)
    return Exceedances(tuple(over), valid, tuple(dict.fromkeys(unverified)))


def good_day_share(daily_aqi: Mapping[dt.date, int | None]) -> Share:
    """优良天数比例: days with daily AQI <= 100 over valid days (days with an AQI; None = no valid AQI)."""
    good = 0
    valid = 0
    for day, value in daily_aqi.items():
        if value is None:
            continue
        if value < 0:
            raise ValueError(f"daily_aqi[{day.isoformat()}]: AQI cannot be negative, got {value}")
        valid += 1
        good += value <= assessment_rules(day).good_day_max_aqi
    return Share(good, valid)


@dataclass(frozen=True, slots=True)
class CityAqi:
    concentrations: Mapping[str, Fraction]  # input name -> mean over the stations that had it
    stations: Mapping[str, int]  # input name -> how many stations had it
    result: AqiResult


def city_daily_aqi(
    stations: Sequence[Mapping[str, Number | None]],
    on: dt.date,
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> CityAqi:
    """City daily AQI (HJ 663): average each input's concentration over the stations, then compute the AQI.

    Each station maps input names ("pm25_24h", "o3_8h", ...) to its daily value, None when invalid.
    Station AQIs are never averaged.
    """
    sums: dict[str, tuple[Fraction, int]] = {}
    for i, station in enumerate(stations):
        for name, value in station.items():
            if value is not None:
                total, count = sums.get(name, (Fraction(0), 0))
                sums[name] = (total + to_concentration(value, name=f"stations[{i}].{name}"), count + 1)
    return city_daily_aqi_of_sums(sums, on, rounding)


def city_daily_aqi_of_sums(
    sums: Mapping[str, tuple[Fraction, int]],
    on: dt.date,
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> CityAqi:
    """`city_daily_aqi` from each input's sum over the stations and the number of stations that had it: a district
    keeps these as running sums, so the city AQI of a day costs the same whatever the number of stations."""
    averaged = {name: total / count for name, (total, count) in sums.items() if count}
    counts = {name: count for name, (_, count) in sums.items() if count}
    return CityAqi(averaged, counts, aqi(averaged, on, rounding))
