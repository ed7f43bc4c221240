"""Waste tonnage per plant in event time: tonnes per local day against capacity (utilisation), sorted-waste
treatment rate, year-to-date hazardous tonnage; district figures go to the second stage ("waste"). Pure.

`process_plant(state, record, ctx) -> Result[WastePlantState]`. A day's figures are recomputed from its records at
emit time, in exact fractions:
- per waste kind, the plant's daily record(s) of that kind replace its deliveries (never both: no double count);
- treated tonnes of a record = incinerated when reported, else received;
- hazardous = treated tonnes of kind "hazardous"; household incinerated = incinerated tonnes of the other kinds;
- sorted collected / treated = the sums of those fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypedDict

from citywatch.indicators import catalogue as cat
from citywatch.indicators.batch import BatchResult, DeferredFeed, Touched, run_deferred
from citywatch.indicators.eventtime import (
    DAY_S,
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
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.schemas.waste import WasteRecord
from citywatch.standards import plan_target

STATE_VERSION = 1
FIELDS = {
    "received_tonnes": "rc",
    "incinerated_tonnes": "in",
    "sorted_collected_tonnes": "sc",
    "sorted_treated_tonnes": "st",
}


class WasteEvent(TypedDict):
    r: int
    p: str  # "delivery" | "day"
    k: str  # waste kind
    v: dict[str, float]  # rc, in, sc, st (those given)


class WasteDay(TypedDict):
    rev: int
    treated: str
    hazardous: str | None
    household_incinerated: str | None
    sorted_collected: str | None
    sorted_treated: str | None


class WastePlantState(TypedDict):
    v: int
    wm: float | None
    seen: dict[str, Seen]
    events: dict[str, dict[str, WasteEvent]]  # local day -> event id -> record, while the day can change
    days: dict[str, WasteDay]  # local day -> summary; this year and last


LATENESS = Lateness(dt.timedelta(days=3))
"""Allowed lateness of weighbridge deliveries and day totals."""


@dataclass(frozen=True)
class WasteContext:
    zone: dt.tzinfo
    capacity_t_per_day: float | None = None  # registry design capacity
    lateness: Lateness = LATENESS
    district: str | None = None


def new_plant_state() -> WastePlantState:
    return {"v": STATE_VERSION, "wm": None, "seen": {}, "events": {}, "days": {}}


def summarise_day(events: Mapping[str, WasteEvent]) -> WasteDay | None:
    if not events:
        return None
    by_kind: dict[str, list[WasteEvent]] = {}
    for e in events.values():
        by_kind.setdefault(e["k"], []).append(e)
    totals: dict[str, Fraction | None] = dict.fromkeys(
        ("treated", "hazardous", "household_incinerated", "sorted_collected", "sorted_treated")
    )

    def add(name: str, value: Fraction) -> None:
        totals[name] = (totals[name] or Fraction(0)) + value

    for kind, records in by_kind.items():
        daily = [e for e in records if e["p"] == "day"]
        for e in daily or records:
            v = e["v"]
            treated = v.get("in", v.get("rc"))
            if treated is not None:
                add("treated", exact(treated))
                if kind == "hazardous":
                    add("hazardous", exact(treated))
            if "in" in v and kind != "hazardous":
                add("household_incinerated", exact(v["in"]))
            if "sc" in v:
                add("sorted_collected", exact(v["sc"]))
            if "st" in v:
                add("sorted_treated", exact(v["st"]))

    def text(name: str) -> str | None:
        value = totals[name]
        return None if value is None else fstr(value)

    return WasteDay(
        rev=sum(rev_weight(e["r"]) for e in events.values()),
        treated=text("treated") or "0",
        hazardous=text("hazardous"),
        household_incinerated=text("household_incinerated"),
        sorted_collected=text("sorted_collected"),
        sorted_treated=text("sorted_treated"),
    )


def _summarise_days(events: dict[str, dict[str, WasteEvent]], days: dict[str, WasteDay], which: Iterable[str]) -> None:
    for d in which:
        summary = summarise_day(events.get(d, {}))
        if summary is None:
            days.pop(d, None)
            events.pop(d, None)
        else:
            days[d] = summary


def settle_days(state: WastePlantState, which: Iterable[str]) -> WastePlantState:
    """The state with the summaries of days folded in by `apply_record(..., summarise=False)` brought up to date."""
    events, days = dict(state["events"]), dict(state["days"])
    _summarise_days(events, days, which)
    return {**state, "events": events, "days": days}


def apply_record(
    state: WastePlantState | None, rec: WasteRecord, ctx: WasteContext, *, summarise: bool = True
) -> tuple[WastePlantState, Outcome, set[str]]:
    """Fold one record in: new state, outcome, touched local days. With `summarise=False` the touched days'
    summaries are left for `settle_days` (a batch summarises each day once, not once per record)."""
    current = state or new_plant_state()
    at = rec.event_time(ctx.zone)
    t = at.timestamp()
    digest = content_digest(rec)
    outcome = admit(current["seen"], current["wm"], rec.event_id, rec.revision, t, ctx.lateness, digest)
    if not isinstance(outcome, Accepted):
        return current, outcome, set()
    day = (rec.date or at.astimezone(ctx.zone).date()).isoformat()
    event: WasteEvent = {
        "r": rec.revision,
        "p": rec.period,
        "k": rec.waste_kind,
        "v": {short: value for name, short in FIELDS.items() if (value := getattr(rec, name)) is not None},
    }
    events = dict(current["events"])
    touched = {day}
    previous = current["seen"].get(rec.event_id)
    if previous is not None:
        for d, es in events.items():
            if rec.event_id in es:
                events[d] = {k: v for k, v in es.items() if k != rec.event_id}
                touched.add(d)
    events[day] = {**events.get(day, {}), rec.event_id: event}
    days = dict(current["days"])
    if summarise:
        _summarise_days(events, days, touched)
    old_wm = current["wm"]
    wm = t if old_wm is None else max(old_wm, t)
    new: WastePlantState = {
        "v": STATE_VERSION,
        "wm": wm,
        "seen": {**current["seen"], rec.event_id: ledger_entry(rec.revision, t, digest)},
        "events": events,
        "days": days,
    }
    if prune_due(old_wm, wm, ctx.lateness.allowed_s):
        edge_day = dt.datetime.fromtimestamp(cutoff(wm, ctx.lateness.allowed_s + DAY_S), ctx.zone).date().isoformat()
        first_year = dt.datetime.fromtimestamp(wm, ctx.zone).year - 1
        new = {
            **new,
            "seen": prune_seen(new["seen"], wm, ctx.lateness),
            "events": {d: es for d, es in events.items() if d >= edge_day},
            "days": {d: s for d, s in days.items() if int(d[:4]) >= first_year},
        }
    return new, outcome, touched


def emit_plant(
    state: WastePlantState, plant: str, days: Iterable[str], ctx: WasteContext
) -> tuple[list[IndicatorRecord], list[Contribution]]:
    out: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    years: set[str] = set()
    capacity_target = plan_target("incineration_capacity")
    sorted_target = plan_target("sorted_waste_treatment_rate")
    for d in sorted(set(days)):
        summary = state["days"].get(d)
        if summary is None:
            continue
        years.add(d[:4])
        day = dt.date.fromisoformat(d)
        end = day_end(day, ctx.zone)
        treated = frac(summary["treated"])
        n = len(state["events"].get(d, {}))
        out.append(
            record(
                cat.WASTE_TONNES_DAY,
                site=plant,
                value=float(treated),
                observed_at=end,
                local_date=day,
                samples=n,
                revision=summary["rev"],
                period=d,
                standard=capacity_target.id,
            )
        )
        if ctx.capacity_t_per_day:
            out.append(
                record(
                    cat.WASTE_UTILISATION_DAY,
                    site=plant,
                    value=float(treated / exact(ctx.capacity_t_per_day)),
                    observed_at=end,
                    local_date=day,
                    samples=n,
                    revision=summary["rev"],
                    period=d,
                    standard=capacity_target.id,
                    labels={"capacity_t_per_day": f"{ctx.capacity_t_per_day:g}"},
                )
            )
        if summary["sorted_collected"] is not None and frac(summary["sorted_collected"]) > 0:
            rate = frac(summary["sorted_treated"] or "0") / frac(summary["sorted_collected"])
            out.append(
                record(
                    cat.WASTE_SORTED_TREATMENT_DAY,
                    site=plant,
                    value=float(rate),
                    observed_at=end,
                    local_date=day,
                    samples=n,
                    revision=summary["rev"],
                    period=d,
                    standard=sorted_target.id,
                    labels={"target": f"> {sorted_target.value}%"},
                )
            )
        if ctx.district is not None:
            contributions.append(
                Contribution(
                    stage="waste",
                    district=ctx.district,
                    site=plant,
                    bucket=d,
                    values={
                        "hazardous": summary["hazardous"],
                        "household_incinerated": summary["household_incinerated"],
                        "sorted_collected": summary["sorted_collected"],
                        "sorted_treated": summary["sorted_treated"],
                    },
                    revision=summary["rev"],
                )
            )
    hazardous_target = plan_target("hazardous_incineration_capacity")
    for year in sorted(years):
        in_year = {d: s for d, s in state["days"].items() if d.startswith(year) and s["hazardous"] is not None}
        if not in_year:
            continue
        total = sum((frac(s["hazardous"] or "0") for s in in_year.values()), Fraction(0))
        last = dt.date.fromisoformat(max(in_year))
        out.append(
            record(
                cat.WASTE_HAZARDOUS_YTD,
                site=plant,
                value=float(total),
                observed_at=day_end(last, ctx.zone),
                local_date=last,
                samples=len(in_year),
                revision=sum(s["rev"] for s in in_year.values()),
                period=year,
                status="provisional",
                standard=hazardous_target.id,
                labels={"target": f"about {hazardous_target.value} {hazardous_target.unit}"},
            )
        )
    return out, contributions


def process_plant(state: WastePlantState | None, rec: WasteRecord, ctx: WasteContext) -> Result[WastePlantState]:
    new, outcome, days = apply_record(state, rec, ctx)
    if not days:
        return Result(new, outcome)
    records, contributions = emit_plant(new, rec.plant, days, ctx)
    return Result(new, outcome, tuple(records), tuple(contributions))


def process_plant_batch(
    state: WastePlantState | None, recs: Sequence[WasteRecord], ctx: WasteContext
) -> BatchResult[WastePlantState]:
    """Many records of one plant: the records `process_plant` would leave, each touched day summarised once."""
    plant = recs[0].plant

    def apply(current: WastePlantState | None, rec: WasteRecord) -> tuple[WastePlantState, Outcome, Touched]:
        new, outcome, days = apply_record(current, rec, ctx, summarise=False)
        return new, outcome, (days,)

    def prunes_at(current: WastePlantState, rec: WasteRecord) -> bool:
        t = rec.event_time(ctx.zone).timestamp()
        wm = current["wm"]
        return prune_due(wm, t if wm is None else max(wm, t), ctx.lateness.allowed_s)

    feed: DeferredFeed[WastePlantState, WasteRecord] = DeferredFeed(
        apply=apply,
        settle=lambda current, touched: settle_days(current, touched[0]),
        emit=lambda current, touched: emit_plant(current, plant, touched[0], ctx),
        prunes_at=prunes_at,
    )
    return run_deferred(feed, state, recs)
