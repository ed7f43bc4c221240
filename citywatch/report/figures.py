"""The plan evaluation report's figures, computed from indicator records alone (pure: no I/O, no plotting).

The input is what the indicators topic holds for the period: every revision of every bucket. Each bucket's current
value is its highest revision (`current_values`), as a consumer of the topic keeps it; the figures are then read from
those values, and targets come from the standards and plan tables (`citywatch.standards`), never typed here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.targets import PLAN_TARGETS, Target, pm25_annual_target

CITY_PM25_DAILY = "air.city.pm25.daily_mean"
CITY_GOOD_DAY_SHARE = "air.city.good_day_share_ytd"
STATION_PM25_ANNUAL = "air.pm25.annual_mean_ytd"
STATION_PM25_ATTAINMENT = "air.pm25.attainment"
STATION_EXCEEDANCE = {"pm25": "air.pm25.exceedance_days_ytd", "o3": "air.o3.exceedance_days_ytd"}
WATER_CLASS_MONTH = "water.class.month"
WATER_TARGET_MET_MONTH = "water.target_met.month"
WATER_GOOD_III_MONTH = "water.good_iii_share.month"


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


@dataclass(frozen=True)
class StationAir:
    """A station's PM2.5 year to date at the end of the period."""

    site: str
    annual_mean: float | None
    annual_status: str | None
    projection: float | None
    attainment: str | None  # on-track / at-risk / off-track
    required_mean: float | None  # the mean the rest of the year needs to meet the target
    exceedance_days: dict[str, int]  # pollutant -> days this year above the 24 h / 8 h limit
    as_of: dt.date


@dataclass(frozen=True)
class PlanSeries:
    """One plan indicator against its plan target: a line per site, the target in the indicator's plotted unit."""

    indicator: Indicator
    target: Target
    unit: str  # the plotted unit: the target's ("%" for shares)
    scale: float  # plotted value = record value × scale
    series: dict[str, list[tuple[dt.date, float]]]  # site -> (local date, plotted value), by date
    latest: dict[str, float]  # site -> plotted value on its last date
    verdict: dict[str, str]  # site -> met / not met / no tolerance given ("about")


@dataclass(frozen=True)
class AlertTransition:
    at: dt.datetime
    status: str
    rule_id: str
    site: str
    severity: str
    value: str
    threshold: str
    historical: bool = False  # an incident found in backfilled history: recorded, nobody was paged


@dataclass(frozen=True)
class ReportData:
    period: Period
    pm25_target: Target
    city_pm25_daily: list[tuple[dt.date, float]]
    city_pm25_period_mean: float | None
    good_day_share: list[tuple[dt.date, float]]  # city, year to date, by day
    good_day_share_latest: float | None
    stations: list[StationAir]
    water_classes: dict[str, dict[str, int]]  # month -> class label -> sections
    water_target_met: dict[str, tuple[int, int]]  # month -> (sections meeting the target, sections assessed)
    water_target_met_share: float | None  # over every section-month of the period
    water_good_iii: list[tuple[str, float]]  # month -> district share of sections in class I–III
    plan: list[PlanSeries]
    alerts: list[AlertTransition] = field(default_factory=list)
    names: Mapping[str, str] = field(default_factory=dict)  # site id -> Chinese name (registry)

    def label(self, site: str) -> str:
        """A site as the report shows it: its registry name with its id."""
        name = self.names.get(site)
        return f"{name} ({site})" if name else site

    @property
    def alerts_fired(self) -> int:
        """Alerts that fired (and paged) in the period."""
        return sum(1 for a in self.alerts if a.status == "firing" and not a.historical)

    @property
    def historical_incidents(self) -> int:
        """Episodes of the period found in backfilled history: they would have fired; nobody was paged."""
        return sum(1 for a in self.alerts if a.status == "firing" and a.historical)


def current_values(records: Iterable[IndicatorRecord], period: Period) -> list[IndicatorRecord]:
    """The current value of every bucket whose local date lies in the period: its highest revision (the last one
    seen among equals, as a compacted topic keeps it)."""
    best: dict[str, IndicatorRecord] = {}
    for r in records:
        if r.local_date not in period:
            continue
        held = best.get(r.bucket_key)
        if held is None or r.revision >= held.revision:
            best[r.bucket_key] = r
    return list(best.values())


def compute(
    records: Iterable[IndicatorRecord],
    period: Period,
    alerts: Sequence[Mapping[str, Any]] = (),
    zone: dt.tzinfo = dt.UTC,
    names: Mapping[str, str] | None = None,
) -> ReportData:
    """Every figure of the report for `period`; `alerts` are records of the alerts topic (may be empty), `names`
    the registry's site names."""
    current = current_values(records, period)
    by_indicator: dict[str, list[IndicatorRecord]] = defaultdict(list)
    for r in current:
        by_indicator[r.indicator].append(r)
    for rs in by_indicator.values():
        rs.sort(key=lambda r: (r.local_date, r.site))

    city_daily = [(r.local_date, r.value) for r in by_indicator[CITY_PM25_DAILY]]
    good_days = [(r.local_date, r.value) for r in by_indicator[CITY_GOOD_DAY_SHARE]]
    water_classes, water_met = _water(by_indicator)
    met_total = sum(m for m, _ in water_met.values())
    assessed_total = sum(n for _, n in water_met.values())
    return ReportData(
        period=period,
        pm25_target=pm25_annual_target(period.end),
        city_pm25_daily=city_daily,
        city_pm25_period_mean=_mean([v for _, v in city_daily]),
        good_day_share=good_days,
        good_day_share_latest=good_days[-1][1] if good_days else None,
        stations=_stations(by_indicator),
        water_classes=water_classes,
        water_target_met=water_met,
        water_target_met_share=met_total / assessed_total if assessed_total else None,
        water_good_iii=[
            (r.period or r.local_date.isoformat()[:7], r.value) for r in by_indicator[WATER_GOOD_III_MONTH]
        ],
        plan=_plan_series(by_indicator),
        alerts=alert_transitions(alerts, period, zone),
        names=dict(names or {}),
    )


def alert_transitions(alerts: Iterable[Mapping[str, Any]], period: Period, zone: dt.tzinfo) -> list[AlertTransition]:
    """The alerts topic's transitions whose event time falls on a local day of the period, oldest first; a
    transition re-published after a crash (same `transition_id`) counts once."""
    seen: set[str] = set()
    out: list[AlertTransition] = []
    for a in alerts:
        at = dt.datetime.fromtimestamp(float(a["event_time"]), zone)
        tid = str(a.get("transition_id", ""))
        if at.date() not in period or (tid and tid in seen):
            continue
        seen.add(tid)
        out.append(
            AlertTransition(
                at=at,
                status=str(a.get("status", "")),
                rule_id=str(a.get("rule_id", "")),
                site=str(a.get("site", "")),
                severity=str(a.get("severity", "")),
                value=f"{a.get('value', '')} {a.get('unit', '')}".strip(),
                threshold=str(a.get("threshold", "")),
                historical=bool(a.get("historical", False)),
            )
        )
    return sorted(out, key=lambda t: t.at)


def meets(value: float, target: Target) -> str:
    """Whether a plotted value meets the target: "met", "not met", or "no tolerance given" for "about" targets."""
    limit = float(target.value)
    if target.direction == "about":
        return "no tolerance given"
    if target.direction == "at_least":
        ok = value > limit if target.strict else value >= limit
    else:
        ok = value < limit if target.strict else value <= limit
    return "met" if ok else "not met"


def _stations(by_indicator: Mapping[str, list[IndicatorRecord]]) -> list[StationAir]:
    latest: dict[str, dict[str, IndicatorRecord]] = defaultdict(dict)
    for indicator in (STATION_PM25_ANNUAL, STATION_PM25_ATTAINMENT, *STATION_EXCEEDANCE.values()):
        for r in by_indicator.get(indicator, []):  # sorted by date: the last one is the latest
            latest[r.site][indicator] = r
    stations = []
    for site, rs in sorted(latest.items()):
        annual = rs.get(STATION_PM25_ANNUAL)
        attain = rs.get(STATION_PM25_ATTAINMENT)
        required = attain.labels.get("required_mean") if attain else None
        stations.append(
            StationAir(
                site=site,
                annual_mean=annual.value if annual else None,
                annual_status=annual.status if annual else None,
                projection=attain.value if attain else None,
                attainment=attain.status if attain else None,
                required_mean=float(required) if required not in (None, "") else None,
                exceedance_days={p: int(rs[i].value) for p, i in STATION_EXCEEDANCE.items() if i in rs},
                as_of=max(r.local_date for r in rs.values()),
            )
        )
    return stations


def _water(
    by_indicator: Mapping[str, list[IndicatorRecord]],
) -> tuple[dict[str, dict[str, int]], dict[str, tuple[int, int]]]:
    classes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in by_indicator.get(WATER_CLASS_MONTH, []):
        month = r.period or r.local_date.isoformat()[:7]
        classes[month][WaterClass(int(r.value)).label] += 1
    met: dict[str, tuple[int, int]] = {}
    for r in by_indicator.get(WATER_TARGET_MET_MONTH, []):
        month = r.period or r.local_date.isoformat()[:7]
        ok, total = met.get(month, (0, 0))
        met[month] = (ok + (1 if r.status == "met" else 0), total + 1)
    return {m: dict(c) for m, c in sorted(classes.items())}, dict(sorted(met.items()))


def _plan_series(by_indicator: Mapping[str, list[IndicatorRecord]]) -> list[PlanSeries]:
    out = []
    for indicator_id, indicator in sorted(CATALOGUE.items()):
        if indicator.target is None or indicator.target not in PLAN_TARGETS or not by_indicator.get(indicator_id):
            continue
        target = PLAN_TARGETS[indicator.target]
        scale = _scale(indicator, target.unit)
        if scale is None:
            continue  # e.g. a plant's tonnes against the district's capacity: not comparable
        series: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
        for r in by_indicator[indicator_id]:
            series[r.site].append((r.local_date, r.value * scale))
        latest = {site: points[-1][1] for site, points in series.items()}
        out.append(
            PlanSeries(
                indicator=indicator,
                target=target,
                unit=target.unit,
                scale=scale,
                series=dict(series),
                latest=latest,
                verdict={site: meets(value, target) for site, value in latest.items()},
            )
        )
    return out


def _scale(indicator: Indicator, target_unit: str) -> float | None:
    """Factor from the indicator's unit to the target's, or None when the two are not comparable."""
    if indicator.unit == target_unit:
        return 1.0
    if indicator.unit == "ratio" and target_unit == "%":
        return 100.0
    # The district's tonnes of a day (of the year so far) against the plan's daily (yearly) capacity.
    if indicator.stage == "district" and (indicator.unit, indicator.window, target_unit) in (
        ("t", "day", "t/day"),
        ("t", "ytd", "t/year"),
    ):
        return 1.0
    return None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
