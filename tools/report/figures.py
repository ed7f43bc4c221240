"""The plan evaluation report's figures, computed from indicator records alone (pure: no I/O, no plotting).

The input is what the indicators topic holds for the period: every revision of every bucket. Each bucket's current
value is its highest revision (`current_values`), as a consumer of the topic keeps it; the figures are then read from
those values, and targets come from the standards and plan tables (`citywatch.standards`), never typed here.

A year-to-date figure is one bucket (its year) revised day after day, so its current value is a single point: its
course over the period is read from the revisions of each day (`daily_history`). A month's water class is dated on
the month's last day: a period inside a month still gets the month's class, marked provisional (month to date)
while the month is not over. Every section also says which days it covers (`Coverage`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.indicators.district import period_days
from citywatch.schemas.indicator import INSUFFICIENT_DATA, IndicatorRecord
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.reporting import reported, with_unit
from citywatch.standards.targets import PLAN_TARGETS, Target, pm25_annual_target, target_on

CITY_PM25_DAILY = "air.city.pm25.daily_mean"
CITY_GOOD_DAY_SHARE = "air.city.good_day_share_ytd"
STATION_PM25_ANNUAL = "air.pm25.annual_mean_ytd"
STATION_PM25_ATTAINMENT = "air.pm25.attainment"
STATION_EXCEEDANCE = {"pm25": "air.pm25.exceedance_days_ytd", "o3": "air.o3.exceedance_days_ytd"}
WATER_CLASS_MONTH = "water.class.month"
WATER_TARGET_MET_MONTH = "water.target_met.month"
WATER_GOOD_III_MONTH = "water.good_iii_share.month"

PLAN_INDICATORS = frozenset(i for i, ind in CATALOGUE.items() if ind.target in PLAN_TARGETS)
REPORTED_INDICATORS = frozenset(
    {
        CITY_PM25_DAILY, CITY_GOOD_DAY_SHARE, STATION_PM25_ANNUAL, STATION_PM25_ATTAINMENT,
        *STATION_EXCEEDANCE.values(), WATER_CLASS_MONTH, WATER_TARGET_MET_MONTH, WATER_GOOD_III_MONTH,
        *PLAN_INDICATORS,
    }
)  # fmt: skip
"""The indicators the report reads: the rest of the topic (hourly values …) can be skipped."""

_PERIOD_WINDOWS = ("month", "quarter")  # values dated on their period's last day
_CAPACITY_UNITS = ("t/day", "t/year")  # plan targets that are capacities, not amounts to treat


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    def overlaps(self, first: dt.date, last: dt.date) -> bool:
        return first <= self.end and last >= self.start

    def months(self) -> list[str]:
        """The months ("YYYY-MM") the period touches."""
        out = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


@dataclass(frozen=True)
class Coverage:
    """Which days of the period a section has values for, and why the others have none."""

    present: tuple[dt.date, ...]
    missing: tuple[dt.date, ...]  # days over before the data was read, yet without a value: no readings
    not_over: tuple[dt.date, ...]  # days not over when the data was read: no daily value can exist yet

    @property
    def first(self) -> dt.date | None:
        return self.present[0] if self.present else None

    @property
    def last(self) -> dt.date | None:
        return self.present[-1] if self.present else None


def coverage(days: Iterable[dt.date], period: Period, read_on: dt.date | None) -> Coverage:
    """The coverage of a section whose values fall on `days`; `read_on` is the local day the data was read (None:
    after the period)."""
    present = sorted({d for d in days if d in period})
    absent = [d for d in period.each_day() if d not in set(present)]
    not_over = [d for d in absent if read_on is not None and d >= read_on]
    missing = [d for d in absent if d not in set(not_over)]
    return Coverage(tuple(present), tuple(missing), tuple(not_over))


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
class WaterMonth:
    """The sections' GB 3838 classes of one month the period touches."""

    month: str  # "YYYY-MM"
    first: dt.date
    last: dt.date
    classes: dict[str, int]  # class label -> sections
    sections: int  # sections with a class this month
    insufficient: int  # of which with fewer samples than a monthly class needs
    met: int  # sections meeting their target class
    assessed: int  # sections judged against their target (enough samples)
    good_iii: float | None  # district share of sections in class I–III
    complete: bool  # the month was over within the period and before the data was read; else month to date

    @property
    def provisional(self) -> bool:
        return not self.complete


@dataclass(frozen=True)
class PlanSeries:
    """One plan indicator against its plan target: a line per site, the target in the indicator's plotted unit."""

    indicator: Indicator
    target: Target
    unit: str  # the plotted unit: the target's ("%" for shares)
    scale: float  # plotted value = record value × scale
    series: dict[str, list[tuple[dt.date, float]]]  # site -> (local date, plotted value), by date
    latest: dict[str, float]  # site -> plotted value on its last date
    verdict: dict[str, str]  # site -> met / not met / no tolerance given ("about"); empty for a capacity
    # The target is a capacity (t/day, t/year): tonnage treated is its use, shown as utilisation, never "not met".
    capacity: bool = False
    utilisation: dict[str, list[tuple[dt.date, float]]] = field(default_factory=dict)  # site -> (day, ratio)

    @property
    def latest_date(self) -> dt.date | None:
        return max((points[-1][0] for points in self.series.values() if points), default=None)


@dataclass(frozen=True)
class AlertTransition:
    at: dt.datetime
    status: str
    rule_id: str
    site: str
    severity: str
    value: str  # at the standard's reporting precision, with its unit
    threshold: str  # likewise; an attainment rule's is the annual target it is judged against
    historical: bool = False  # an incident found in backfilled history: recorded, nobody was paged


@dataclass(frozen=True)
class ReportData:
    period: Period
    pm25_target: Target  # in force on the period's last day
    pm25_target_by_day: list[tuple[dt.date, float]]  # the target in force on each day (GB 3095 changes on 2026-03-01)
    city_pm25_daily: list[tuple[dt.date, float]]
    city_pm25_period_mean: float | None
    good_day_share: list[tuple[dt.date, float]]  # city, year to date, as it stood at the end of each day
    good_day_share_latest: float | None
    stations: list[StationAir]
    water_classes: dict[str, dict[str, int]]  # month -> class label -> sections
    water_target_met: dict[str, tuple[int, int]]  # month -> (sections meeting the target, sections assessed)
    water_target_met_share: float | None  # over the complete months; over the months to date when none is
    water_good_iii: list[tuple[str, float]]  # month -> district share of sections in class I–III
    plan: list[PlanSeries]
    alerts: list[AlertTransition] = field(default_factory=list)
    names: Mapping[str, str] = field(default_factory=dict)  # site id -> Chinese name (registry)
    alerts_read: bool = True  # False: no alerts topic was read, so the alerts are not included (not "none")
    as_of: dt.datetime | None = None  # when the data was read (None: after the period)
    water_months: list[WaterMonth] = field(default_factory=list)  # every month the period touches
    water_share_provisional: bool = False  # the share rests on months to date only
    city_pm25_coverage: Coverage = field(default_factory=lambda: Coverage((), (), ()))
    good_day_coverage: Coverage = field(default_factory=lambda: Coverage((), (), ()))

    def label(self, site: str) -> str:
        """A site as the report shows it: its registry name with its id."""
        name = self.names.get(site)
        return f"{name} ({site})" if name else site

    @property
    def read_on(self) -> dt.date | None:
        return None if self.as_of is None else self.as_of.date()

    @property
    def period_over(self) -> bool:
        """Whether the period was over when the data was read."""
        return self.read_on is None or self.period.end < self.read_on

    @property
    def alerts_fired(self) -> int | None:
        """Alerts that fired (and paged) in the period; None when no alerts topic was read."""
        if not self.alerts_read:
            return None
        return sum(1 for a in self.alerts if a.status == "firing" and not a.historical)

    @property
    def historical_incidents(self) -> int | None:
        """Episodes of the period found in backfilled history: they would have fired; nobody was paged."""
        if not self.alerts_read:
            return None
        return sum(1 for a in self.alerts if a.status == "firing" and a.historical)


def in_scope(record: IndicatorRecord, period: Period) -> bool:
    """Whether a record belongs to the report of `period`: its local day lies in the period, or it is the value of a
    month (quarter) that overlaps the period — those are dated on the month's last day, so a period inside a month
    would otherwise never see its month's value."""
    if record.local_date in period:
        return True
    if record.window in _PERIOD_WINDOWS and record.period:
        try:
            first, last = period_days(record.period)
        except ValueError:
            return False
        return period.overlaps(first, last)
    return False


def current_values(records: Iterable[IndicatorRecord], period: Period) -> list[IndicatorRecord]:
    """The current value of every bucket in the period's scope (`in_scope`): its highest revision (the last one
    seen among equals, as a compacted topic keeps it)."""
    best: dict[str, IndicatorRecord] = {}
    for r in records:
        if not in_scope(r, period):
            continue
        held = best.get(r.bucket_key)
        if held is None or r.revision >= held.revision:
            best[r.bucket_key] = r
    return list(best.values())


def daily_history(
    records: Iterable[IndicatorRecord], period: Period, indicators: Iterable[str]
) -> dict[tuple[str, str], list[IndicatorRecord]]:
    """(indicator, site) -> the value as it stood at the end of each local day of the period, by day: the highest
    revision among the records of that day. For a daily indicator that is each day's current value; for a year to
    date, its course over the period."""
    wanted = set(indicators)
    best: dict[tuple[str, str, dt.date], IndicatorRecord] = {}
    for r in records:
        if r.indicator not in wanted or r.local_date not in period:
            continue
        key = (r.indicator, r.site, r.local_date)
        held = best.get(key)
        if held is None or r.revision >= held.revision:
            best[key] = r
    out: dict[tuple[str, str], list[IndicatorRecord]] = defaultdict(list)
    for (indicator, site, _), r in sorted(best.items(), key=lambda item: item[0]):
        out[indicator, site].append(r)
    return dict(out)


def compute(
    records: Iterable[IndicatorRecord],
    period: Period,
    alerts: Sequence[Mapping[str, Any]] | None = (),
    zone: dt.tzinfo = dt.UTC,
    names: Mapping[str, str] | None = None,
    as_of: dt.datetime | None = None,
) -> ReportData:
    """Every figure of the report for `period`; `alerts` are records of the alerts topic (None: no alerts topic was
    read), `names` the registry's site names, `as_of` when the data was read (None: after the period)."""
    records = list(records)
    read_on = None if as_of is None else as_of.astimezone(zone).date()
    current = current_values(records, period)
    by_indicator: dict[str, list[IndicatorRecord]] = defaultdict(list)
    for r in current:
        by_indicator[r.indicator].append(r)
    for rs in by_indicator.values():
        rs.sort(key=lambda r: (r.local_date, r.site))

    history = daily_history(records, period, [CITY_GOOD_DAY_SHARE, *PLAN_INDICATORS])
    city_daily = [(r.local_date, r.value) for r in by_indicator[CITY_PM25_DAILY] if r.local_date in period]
    good_days = [
        (r.local_date, r.value) for (ind, _), rs in sorted(history.items()) if ind == CITY_GOOD_DAY_SHARE for r in rs
    ]
    months = _water_months(by_indicator, period, read_on)
    complete = [m for m in months if m.complete and m.assessed]
    counted = complete or [m for m in months if m.assessed]
    assessed_total = sum(m.assessed for m in counted)
    return ReportData(
        period=period,
        pm25_target=pm25_annual_target(period.end),
        pm25_target_by_day=[(day, float(pm25_annual_target(day).value)) for day in period.each_day()],
        city_pm25_daily=city_daily,
        city_pm25_period_mean=_mean([v for _, v in city_daily]),
        good_day_share=good_days,
        good_day_share_latest=_last_value(by_indicator[CITY_GOOD_DAY_SHARE]),
        stations=_stations(by_indicator, period),
        water_classes={m.month: m.classes for m in months if m.classes},
        water_target_met={m.month: (m.met, m.assessed) for m in months if m.assessed},
        water_target_met_share=sum(m.met for m in counted) / assessed_total if assessed_total else None,
        water_good_iii=[(m.month, m.good_iii) for m in months if m.good_iii is not None],
        plan=_plan_series(history),
        alerts=[] if alerts is None else alert_transitions(alerts, period, zone),
        names=dict(names or {}),
        alerts_read=alerts is not None,
        as_of=as_of,
        water_months=months,
        water_share_provisional=bool(counted) and not complete,
        city_pm25_coverage=coverage([d for d, _ in city_daily], period, read_on),
        good_day_coverage=coverage([d for d, _ in good_days], period, read_on),
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
        unit = str(a.get("unit", ""))
        out.append(
            AlertTransition(
                at=at,
                status=str(a.get("status", "")),
                rule_id=str(a.get("rule_id", "")),
                site=str(a.get("site", "")),
                severity=str(a.get("severity", "")),
                value=_shown(a.get("value"), unit),
                threshold=_alert_threshold(a, unit, at.date()),
                historical=bool(a.get("historical", False)),
            )
        )
    return sorted(out, key=lambda t: t.at)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _shown(value: object, unit: str) -> str:
    number = _number(value)
    if number is None:
        return str(value or "—")
    return with_unit(number, unit) if unit else reported(number, unit)


def _alert_threshold(alert: Mapping[str, Any], unit: str, on: dt.date) -> str:
    """What the alert's value was judged against. An attainment rule's condition is a status, and the number it
    carries is the annual target (0 when the record named none): show the target, never a bare 0."""
    threshold = _number(alert.get("threshold"))
    if alert.get("kind") != "attainment":
        return _shown(alert.get("threshold"), unit)
    target = _target_of(CATALOGUE.get(str(alert.get("indicator", ""))), on)
    if target is None:
        return f"annual target {with_unit(threshold, unit)}" if threshold else "annual target (not given)"
    if threshold:  # the target the record was projected against, in the record's unit
        return f"annual target {_sign(target)} {with_unit(threshold, unit)}"
    return f"annual target {target_text(target)}"


def _target_of(indicator: Indicator | None, on: dt.date) -> Target | None:
    if indicator is None or indicator.target is None:
        return None
    return target_on(indicator.target, on)


def _sign(target: Target) -> str:
    signs = {"at_least": ">" if target.strict else "≥", "at_most": "<" if target.strict else "≤"}
    return signs.get(target.direction, "≈")


def target_text(target: Target) -> str:
    """A target as people read it: "≤ 35 µg/m³", "> 99.0 %", "≈ 70,000 t/year"."""
    value = float(target.value)
    shown = with_unit(value / 100, "ratio") if target.unit == "%" else with_unit(value, target.unit)
    return f"{_sign(target)} {shown}"


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


def _stations(by_indicator: Mapping[str, list[IndicatorRecord]], period: Period) -> list[StationAir]:
    latest: dict[str, dict[str, IndicatorRecord]] = defaultdict(dict)
    for indicator in (STATION_PM25_ANNUAL, STATION_PM25_ATTAINMENT, *STATION_EXCEEDANCE.values()):
        for r in by_indicator.get(indicator, []):  # sorted by date: the last one is the latest
            if r.local_date in period:
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


def _water_months(
    by_indicator: Mapping[str, list[IndicatorRecord]], period: Period, read_on: dt.date | None
) -> list[WaterMonth]:
    def month_of(r: IndicatorRecord) -> str:
        return r.period or r.local_date.isoformat()[:7]

    classes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    insufficient: dict[str, int] = defaultdict(int)
    for r in by_indicator.get(WATER_CLASS_MONTH, []):
        classes[month_of(r)][WaterClass(int(r.value)).label] += 1
        insufficient[month_of(r)] += r.status == INSUFFICIENT_DATA
    met: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in by_indicator.get(WATER_TARGET_MET_MONTH, []):
        met[month_of(r)][0] += r.status == "met"
        met[month_of(r)][1] += 1
    good_iii = {month_of(r): r.value for r in by_indicator.get(WATER_GOOD_III_MONTH, [])}
    out = []
    for month in period.months():
        first, last = period_days(month)
        counts = dict(classes.get(month, {}))
        out.append(
            WaterMonth(
                month=month,
                first=first,
                last=last,
                classes=counts,
                sections=sum(counts.values()),
                insufficient=insufficient.get(month, 0),
                met=met[month][0] if month in met else 0,
                assessed=met[month][1] if month in met else 0,
                good_iii=good_iii.get(month),
                complete=last <= period.end and (read_on is None or last < read_on),
            )
        )
    return out


def _plan_series(history: Mapping[tuple[str, str], list[IndicatorRecord]]) -> list[PlanSeries]:
    out = []
    for indicator_id, indicator in sorted(CATALOGUE.items()):
        sites = {site: rs for (ind, site), rs in history.items() if ind == indicator_id and rs}
        if indicator.target is None or indicator.target not in PLAN_TARGETS or not sites:
            continue
        target = PLAN_TARGETS[indicator.target]
        scale = _scale(indicator, target.unit)
        if scale is None:
            continue  # e.g. a plant's tonnes against the district's capacity: not comparable
        series = {site: [(r.local_date, r.value * scale) for r in rs] for site, rs in sorted(sites.items())}
        latest = {site: points[-1][1] for site, points in series.items()}
        capacity = target.unit in _CAPACITY_UNITS
        out.append(
            PlanSeries(
                indicator=indicator,
                target=target,
                unit=target.unit,
                scale=scale,
                series=series,
                latest=latest,
                verdict={} if capacity else {site: meets(value, target) for site, value in latest.items()},
                capacity=capacity,
                utilisation=(
                    {site: [(d, utilisation(v, target, d)) for d, v in points] for site, points in series.items()}
                    if capacity
                    else {}
                ),
            )
        )
    return out


def utilisation(value: float, capacity: Target, on: dt.date) -> float:
    """Tonnage over the capacity that treats it: a day's tonnes over the daily capacity; a year's tonnes so far over
    the yearly capacity pro rata to the day (day of the year / days in the year)."""
    limit = float(capacity.value)
    if capacity.unit == "t/year":
        year_days = (dt.date(on.year + 1, 1, 1) - dt.date(on.year, 1, 1)).days
        limit *= on.timetuple().tm_yday / year_days
    return value / limit if limit else float("nan")


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


def _last_value(records: Sequence[IndicatorRecord]) -> float | None:
    """The current value of the latest bucket (records sorted by date)."""
    return records[-1].value if records else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
