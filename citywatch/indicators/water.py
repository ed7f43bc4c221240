"""Surface water per section in event time: class per sample, per month and quarter (mean of each indicator, then
the single-factor class), compliance with the section's target class, main pollutants. Pure.

`process_section(state, sample, ctx) -> Result[WaterSectionState]`. Buckets are local months; a quarter is the sum
of its three months. Each month keeps, per GB 3838 indicator, the exact sum (a fraction string) and the count of
the samples that have it, so means do not depend on arrival order; a correction subtracts the old values (kept in
the event ledger while a correction can still come) and adds the new ones. Allowed lateness depends on the
sample's `method`: automatic stations hours, manual (laboratory) samples weeks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypedDict

from citywatch.indicators import catalogue as cat
from citywatch.indicators.district import period_days
from citywatch.indicators.eventtime import (
    Accepted,
    Lateness,
    Outcome,
    Seen,
    admit,
    cutoff,
    exact,
    frac,
    fstr,
    ledger_entry,
    prune_due,
    prune_seen,
    rev_weight,
)
from citywatch.indicators.records import Contribution, Result, day_end, record
from citywatch.schemas.feed_record import content_digest
from citywatch.schemas.indicator import INSUFFICIENT_DATA, IndicatorRecord
from citywatch.schemas.water import STANDARD_NAMES, WaterSample
from citywatch.standards import SectionClass, WaterClass, classify_section, meets_target
from citywatch.standards.tables.gb3838 import MIN_SAMPLES

STATE_VERSION = 1


class WaterEvent(TypedDict):
    r: int
    t: float
    m: str  # "automatic" | "manual"
    v: dict[str, float]  # standards input name -> value


class MonthSums(TypedDict):
    n: int  # samples
    rev: int  # Σ (1 + revision) of the samples
    s: dict[str, list[str | int]]  # indicator -> [exact sum, count]


class WaterSectionState(TypedDict):
    v: int
    wm: float | None
    seen: dict[str, Seen]
    events: dict[str, WaterEvent]  # values of samples a correction may still replace
    months: dict[str, MonthSums]  # "YYYY-MM" -> sums


AUTOMATIC_LATENESS = Lateness(dt.timedelta(hours=48))
"""Allowed lateness of automatic stations' samples (hours)."""
MANUAL_LATENESS = Lateness(dt.timedelta(weeks=6))
"""Allowed lateness of manual samples, reported by a laboratory (weeks)."""


@dataclass(frozen=True)
class WaterContext:
    zone: dt.tzinfo
    kind: str | None = None  # "river" | "lake" from the registry; None: the sample's own `kind`
    target_class: str | None = None  # the section's GB 3838 target class (registry), e.g. "III"
    district: str | None = None
    automatic: Lateness = AUTOMATIC_LATENESS
    manual: Lateness = MANUAL_LATENESS

    def lateness(self, method: str) -> Lateness:
        return self.manual if method == "manual" else self.automatic


def new_section_state() -> WaterSectionState:
    return {"v": STATE_VERSION, "wm": None, "seen": {}, "events": {}, "months": {}}


def standard_values(sample: WaterSample) -> dict[str, float]:
    return {STANDARD_NAMES[name]: value for name, value in sample.indicators().items()}


def _month(t: float, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(t, zone).strftime("%Y-%m")


def quarter_of(month: str) -> str:
    return f"{month[:4]}Q{(int(month[5:7]) - 1) // 3 + 1}"


def _quarter_months(quarter: str) -> list[str]:
    q = int(quarter[-1])
    return [f"{quarter[:4]}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def _add(sums: MonthSums | None, event: WaterEvent, sign: int) -> MonthSums:
    current: MonthSums = sums or {"n": 0, "rev": 0, "s": {}}
    s = dict(current["s"])
    for name, value in event["v"].items():
        total, count = s.get(name, ["0", 0])
        s[name] = [fstr(frac(str(total)) + sign * exact(value)), int(count) + sign]
        if s[name][1] == 0:
            del s[name]
    return {"n": current["n"] + sign, "rev": current["rev"] + sign * rev_weight(event["r"]), "s": s}


def apply_sample(
    state: WaterSectionState | None, sample: WaterSample, ctx: WaterContext
) -> tuple[WaterSectionState, Outcome, set[str]]:
    """Fold one sample into the section's state: new state, outcome, and the months it changed."""
    current = state or new_section_state()
    t = sample.sampled_at.timestamp()
    lateness = ctx.lateness(sample.method)
    digest = content_digest(sample)
    outcome = admit(current["seen"], current["wm"], sample.event_id, sample.revision, t, lateness, digest)
    if not isinstance(outcome, Accepted):
        return current, outcome, set()
    event: WaterEvent = {"r": sample.revision, "t": t, "m": sample.method, "v": standard_values(sample)}
    months = dict(current["months"])
    touched: set[str] = set()
    old = current["events"].get(sample.event_id)
    if old is not None:
        m = _month(old["t"], ctx.zone)
        months[m] = _add(months.get(m), old, -1)
        if months[m]["n"] == 0:
            del months[m]
        touched.add(m)
    m = _month(t, ctx.zone)
    months[m] = _add(months.get(m), event, +1)
    touched.add(m)
    old_wm = current["wm"]
    wm = t if old_wm is None else max(old_wm, t)
    new: WaterSectionState = {
        "v": STATE_VERSION,
        "wm": wm,
        "seen": {**current["seen"], sample.event_id: ledger_entry(sample.revision, t, digest)},
        "events": {**current["events"], sample.event_id: event},
        "months": months,
    }
    longest = max(ctx.automatic.retention_s, ctx.manual.retention_s)
    if prune_due(old_wm, wm, ctx.automatic.allowed_s):
        edge_auto = cutoff(wm, ctx.automatic.allowed_s)
        edge_manual = cutoff(wm, ctx.manual.allowed_s)
        events = {
            k: e for k, e in new["events"].items() if e["t"] >= (edge_manual if e["m"] == "manual" else edge_auto)
        }
        first_year = dt.datetime.fromtimestamp(wm, ctx.zone).year - 1
        new = {
            **new,
            "events": events,
            "seen": prune_seen(new["seen"], wm, Lateness(dt.timedelta(seconds=longest), dt.timedelta(seconds=longest))),
            "months": {k: v for k, v in months.items() if int(k[:4]) >= first_year},
        }
    return new, outcome, touched


def _means(sums: Iterable[MonthSums]) -> tuple[dict[str, Fraction], int, int]:
    totals: dict[str, tuple[Fraction, int]] = {}
    n = rev = 0
    for month in sums:
        n += month["n"]
        rev += month["rev"]
        for name, (total, count) in month["s"].items():
            prev = totals.get(name, (Fraction(0), 0))
            totals[name] = (prev[0] + frac(str(total)), prev[1] + int(count))
    return {name: total / count for name, (total, count) in totals.items() if count}, n, rev


def _classify(values: Mapping[str, Fraction | float], kind: str) -> SectionClass | None:
    try:
        return classify_section(values, kind)
    except ValueError:  # no evaluation indicator (e.g. temperature and conductivity only)
        return None


def _class_labels(sc: SectionClass, target: str | None) -> dict[str, str]:
    labels = {
        "class": sc.water_class.label,
        "rating": sc.rating,
        "main_pollutants": ",".join(ic.indicator for ic in sc.main_pollutants),
        "limiting": ",".join(sc.limiting),
    }
    if target is not None:
        labels["target_class"] = target
    return labels


def emit(
    state: WaterSectionState,
    section: str,
    months: Iterable[str],
    ctx: WaterContext,
    kind: str,
) -> tuple[list[IndicatorRecord], list[Contribution]]:
    records: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    target = None if ctx.target_class is None else WaterClass.parse(ctx.target_class)
    periods = sorted(set(months)) + sorted({quarter_of(m) for m in months})
    for period in periods:
        quarter = "Q" in period
        parts = [state["months"][m] for m in (_quarter_months(period) if quarter else [period]) if m in state["months"]]
        if not parts:
            continue
        means, n, rev = _means(parts)
        sc = _classify(means, kind)
        _, last = period_days(period)
        end = day_end(last, ctx.zone)
        enough = n >= MIN_SAMPLES["quarter" if quarter else "month"]
        if sc is not None:
            records.append(
                record(
                    cat.WATER_CLASS_QUARTER if quarter else cat.WATER_CLASS_MONTH,
                    site=section,
                    value=float(sc.water_class.value),
                    observed_at=end,
                    local_date=last,
                    samples=n,
                    revision=rev,
                    period=period,
                    status="valid" if enough else INSUFFICIENT_DATA,
                    standard=sc.standard,
                    labels=_class_labels(sc, ctx.target_class),
                )
            )
            if target is not None and enough:
                met = meets_target(sc.water_class, target)
                records.append(
                    record(
                        cat.WATER_TARGET_MET_QUARTER if quarter else cat.WATER_TARGET_MET_MONTH,
                        site=section,
                        value=1.0 if met else 0.0,
                        observed_at=end,
                        local_date=last,
                        samples=n,
                        revision=rev,
                        period=period,
                        status="met" if met else "not-met",
                        standard=sc.standard,
                        labels={"class": sc.water_class.label, "target_class": target.label},
                    )
                )
        if ctx.district is not None:
            valid_class = sc.water_class.value if sc is not None and enough else None
            contributions.append(
                Contribution(
                    stage="water.district",
                    district=ctx.district,
                    site=section,
                    bucket=period,
                    values={"class": valid_class},
                    revision=rev,
                )
            )
    return records, contributions


def process_section(
    state: WaterSectionState | None, sample: WaterSample, ctx: WaterContext
) -> Result[WaterSectionState]:
    new, outcome, months = apply_sample(state, sample, ctx)
    if not months:
        return Result(new, outcome)
    kind = ctx.kind or sample.kind
    records, contributions = emit(new, sample.section, months, ctx, kind)
    sc = _classify(standard_values(sample), kind)
    if sc is not None:
        at = sample.sampled_at.astimezone(ctx.zone)
        records.insert(
            0,
            record(
                cat.WATER_CLASS_SAMPLE,
                site=sample.section,
                value=float(sc.water_class.value),
                observed_at=at,
                local_date=at.date(),
                samples=1,
                revision=sample.revision,
                period=at.isoformat(),
                standard=sc.standard,
                labels={**_class_labels(sc, ctx.target_class), "method": sample.method},
            ),
        )
    return Result(new, outcome, tuple(records), tuple(contributions))
