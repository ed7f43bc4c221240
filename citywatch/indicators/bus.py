"""Bus ridership per route in event time, against a baseline; vehicles seen for the clean-energy share; the
public-transport share from mode-share records. Pure.

- `process_route(state, count, ctx)`: boardings per route per interval (`ctx.interval`, counted by interval
  start) and per local day; the day against its baseline = mean boardings of the same weekday in the previous four
  weeks, holidays and make-up workdays (weekend days worked) excluded (`ctx.day_type`, e.g. `Registry.day_type`:
  pure, a lookup in the holiday calendar; a year the calendar does not know is day type "unknown", with the reason);
  the vehicles seen per day go to the district stage ("bus.fleet") for the clean-energy share.
- `fleet_clean_energy_share(fleet, ...)`: the share over the registry's fleet (static).
- `process_area(state, record, ctx)`: public-transport share per day and year to date (ratio of the sums).

Counts are integers: sums are exact in any order. A late count re-emits its day and the days whose baseline it is
in (same weekday, 1–4 weeks later) that are already in the state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
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
    ledger_entry,
    prune_due,
    prune_seen,
    rev_weight,
)
from citywatch.indicators.records import Contribution, Result, day_end, record
from citywatch.schemas.bus import CLEAN_ENERGY, BusRidership, ModeShareRecord
from citywatch.schemas.feed_record import content_digest
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards import plan_target

STATE_VERSION = 1
BASELINE_WEEKS = 4
BASELINE_HISTORY_DAYS = 7 * BASELINE_WEEKS  # the days a full baseline reaches back over

DayTypeFn = Callable[[dt.date], str]


class BusEvent(TypedDict):
    r: int
    t: float  # interval start, epoch seconds
    b: int  # boardings
    veh: str
    clean: int  # 1 when the vehicle's drive counts as clean energy


class BusDay(TypedDict):
    b: int
    rev: int
    veh: dict[str, list[int]]  # vehicle -> [events, clean]


class BusRouteState(TypedDict):
    v: int
    wm: float | None
    seen: dict[str, Seen]
    events: dict[str, BusEvent]  # counts a correction may still replace
    intervals: dict[str, list[int]]  # interval start (epoch s) -> [boardings, rev]
    days: dict[str, BusDay]  # local day -> totals; kept 4 weeks + lateness for baselines


LATENESS = Lateness(dt.timedelta(hours=6))
"""Allowed lateness of bus counts (automatic fare systems: hours)."""


@dataclass(frozen=True)
class BusContext:
    zone: dt.tzinfo
    day_type: DayTypeFn  # "workday" (make-up workdays too) | "weekend" | "holiday"; LookupError -> "unknown"
    interval: dt.timedelta = dt.timedelta(hours=1)
    lateness: Lateness = LATENESS
    district: str | None = None


def new_route_state() -> BusRouteState:
    return {"v": STATE_VERSION, "wm": None, "seen": {}, "events": {}, "intervals": {}, "days": {}}


def holidays_day_type(holidays: Iterable[dt.date]) -> DayTypeFn:
    """A `day_type` from a plain set of holiday dates (weekends by weekday, no make-up workdays)."""
    days = frozenset(holidays)

    def day_type(day: dt.date) -> str:
        if day in days:
            return "holiday"
        return "workday" if day.weekday() < 5 else "weekend"

    return day_type


def _day_type(ctx: BusContext, day: dt.date) -> tuple[str, str | None]:
    """The day type and, for "unknown" (a calendar gap), why."""
    try:
        return ctx.day_type(day), None
    except LookupError as exc:
        return "unknown", str(exc)


def _day_type_labels(ctx: BusContext, day: dt.date) -> dict[str, str]:
    kind, reason = _day_type(ctx, day)
    return {"day_type": kind} if reason is None else {"day_type": kind, "day_type_reason": reason}


def _like_its_weekday(ctx: BusContext, day: dt.date) -> bool:
    """True for a day like the other days of its weekday: a workday Monday to Friday, a weekend day at the weekend.
    Holidays and worked weekend days are not; a day of unknown type counts (its records say "unknown")."""
    kind, _ = _day_type(ctx, day)
    return kind == "unknown" or kind == ("workday" if day.weekday() < 5 else "weekend")


def _interval_key(t: float, ctx: BusContext) -> str:
    step = ctx.interval.total_seconds()
    return str(int(t // step * step))


def _local_day(t: float, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(t, zone).date().isoformat()


def _shift(
    intervals: dict[str, list[int]], days: dict[str, BusDay], e: BusEvent, ctx: BusContext, sign: int
) -> tuple[str, str]:
    ik = _interval_key(e["t"], ctx)
    b, rev = intervals.get(ik, [0, 0])
    intervals[ik] = [b + sign * e["b"], rev + sign * rev_weight(e["r"])]
    if intervals[ik][1] == 0:
        del intervals[ik]
    dk = _local_day(e["t"], ctx.zone)
    day = days.get(dk) or BusDay(b=0, rev=0, veh={})
    veh = dict(day["veh"])
    n, clean = veh.get(e["veh"], [0, e["clean"]])
    if n + sign == 0:
        veh.pop(e["veh"], None)
    else:
        veh[e["veh"]] = [n + sign, clean if sign < 0 else e["clean"]]
    new_day = BusDay(b=day["b"] + sign * e["b"], rev=day["rev"] + sign * rev_weight(e["r"]), veh=veh)
    if new_day["rev"] == 0:
        days.pop(dk, None)
    else:
        days[dk] = new_day
    return ik, dk


def apply_count(
    state: BusRouteState | None, count: BusRidership, ctx: BusContext
) -> tuple[BusRouteState, Outcome, set[str], set[str]]:
    """Fold one count in: new state, outcome, touched interval keys, touched local days."""
    current = state or new_route_state()
    t = count.interval_start.timestamp()
    digest = content_digest(count)
    outcome = admit(current["seen"], current["wm"], count.event_id, count.revision, t, ctx.lateness, digest)
    if not isinstance(outcome, Accepted):
        return current, outcome, set(), set()
    event: BusEvent = {
        "r": count.revision,
        "t": t,
        "b": count.boardings,
        "veh": count.vehicle,
        "clean": int(count.energy_type in CLEAN_ENERGY),
    }
    intervals = dict(current["intervals"])
    days = dict(current["days"])
    touched_i: set[str] = set()
    touched_d: set[str] = set()
    old = current["events"].get(count.event_id)
    if old is not None:
        ik, dk = _shift(intervals, days, old, ctx, -1)
        touched_i.add(ik)
        touched_d.add(dk)
    ik, dk = _shift(intervals, days, event, ctx, +1)
    touched_i.add(ik)
    touched_d.add(dk)
    old_wm = current["wm"]
    wm = t if old_wm is None else max(old_wm, t)
    new: BusRouteState = {
        "v": STATE_VERSION,
        "wm": wm,
        "seen": {**current["seen"], count.event_id: ledger_entry(count.revision, t, digest)},
        "events": {**current["events"], count.event_id: event},
        "intervals": intervals,
        "days": days,
    }
    if prune_due(old_wm, wm, ctx.lateness.allowed_s):
        edge = cutoff(wm, ctx.lateness.allowed_s)
        keep_days = _local_day(cutoff(wm, ctx.lateness.allowed_s + (BASELINE_HISTORY_DAYS + 1) * DAY_S), ctx.zone)
        new = {
            **new,
            "seen": prune_seen(new["seen"], wm, ctx.lateness),
            "events": {k: e for k, e in new["events"].items() if e["t"] >= edge},
            "intervals": {k: v for k, v in intervals.items() if int(k) >= edge - ctx.interval.total_seconds() - DAY_S},
            "days": {k: v for k, v in days.items() if k >= keep_days},
        }
    return new, outcome, touched_i, touched_d


def _baseline_days(day: dt.date) -> list[dt.date]:
    return [day - dt.timedelta(weeks=k) for k in range(1, BASELINE_WEEKS + 1)]


def emit_route(
    state: BusRouteState, route: str, intervals: Iterable[str], days: Iterable[str], ctx: BusContext
) -> tuple[list[IndicatorRecord], list[Contribution]]:
    out: list[IndicatorRecord] = []
    step = ctx.interval
    for ik in sorted(set(intervals)):
        if ik not in state["intervals"]:
            continue
        b, rev = state["intervals"][ik]
        start = dt.datetime.fromtimestamp(int(ik), ctx.zone)
        out.append(
            record(
                cat.BUS_BOARDINGS_INTERVAL,
                site=route,
                value=float(b),
                observed_at=start + step,
                local_date=start.date(),
                samples=rev,
                revision=rev,
                period=start.isoformat(),
                labels={"interval": str(step)},
            )
        )
    touched = {dt.date.fromisoformat(d) for d in days}
    affected = touched | {d + dt.timedelta(weeks=k) for d in touched for k in range(1, BASELINE_WEEKS + 1)}
    contributions: list[Contribution] = []
    for day in sorted(affected):
        summary = state["days"].get(day.isoformat())
        if summary is None:
            continue
        end = day_end(day, ctx.zone)
        if day in touched:
            out.append(
                record(
                    cat.BUS_BOARDINGS_DAY,
                    site=route,
                    value=float(summary["b"]),
                    observed_at=end,
                    local_date=day,
                    samples=len(summary["veh"]),
                    revision=summary["rev"],
                    period=day.isoformat(),
                    labels=_day_type_labels(ctx, day),
                )
            )
            history = [
                d
                for k in range(BASELINE_HISTORY_DAYS)
                if (d := (day - dt.timedelta(days=k)).isoformat()) in state["days"]
            ]
            out.append(
                record(
                    cat.BUS_BASELINE_HISTORY_DAYS,
                    site=route,
                    value=float(len(history)),
                    observed_at=end,
                    local_date=day,
                    samples=len(history),
                    revision=sum(state["days"][d]["rev"] for d in history),
                    period=day.isoformat(),
                )
            )
            if ctx.district is not None:
                contributions.append(
                    Contribution(
                        stage="bus.fleet",
                        district=ctx.district,
                        site=route,
                        bucket=day.isoformat(),
                        values={vehicle: clean for vehicle, (_, clean) in sorted(summary["veh"].items())},
                        revision=summary["rev"],
                    )
                )
        base = [
            (d, s)
            for d in _baseline_days(day)
            if (s := state["days"].get(d.isoformat())) is not None and _like_its_weekday(ctx, d)
        ]
        if not base:
            continue
        baseline = Fraction(sum(s["b"] for _, s in base), len(base))
        if baseline == 0:
            continue
        out.append(
            record(
                cat.BUS_BOARDINGS_VS_BASELINE,
                site=route,
                value=float(summary["b"] / baseline),
                observed_at=end,
                local_date=day,
                samples=len(base),
                revision=summary["rev"] + sum(s["rev"] for _, s in base),
                period=day.isoformat(),
                labels={
                    "baseline": f"{float(baseline):.6g}",
                    "baseline_days": ",".join(d.isoformat() for d, _ in base),
                    **_day_type_labels(ctx, day),
                },
            )
        )
    return out, contributions


def process_route(state: BusRouteState | None, count: BusRidership, ctx: BusContext) -> Result[BusRouteState]:
    new, outcome, intervals, days = apply_count(state, count, ctx)
    if not days:
        return Result(new, outcome)
    records, contributions = emit_route(new, count.route, intervals, days, ctx)
    return Result(new, outcome, tuple(records), tuple(contributions))


def fleet_clean_energy_share(
    energy_types: Iterable[str], *, district: str, on: dt.date, zone: dt.tzinfo, revision: int = 0
) -> IndicatorRecord | None:
    """The clean-energy share of a fleet (e.g. `[v.energy_type for v in registry.fleet]`); None for no vehicles."""
    drives = list(energy_types)
    if not drives:
        return None
    clean = sum(1 for d in drives if d in CLEAN_ENERGY)
    target = plan_target("clean_energy_bus_share")
    return record(
        cat.BUS_CLEAN_ENERGY_SHARE_FLEET,
        site=district,
        value=clean / len(drives),
        observed_at=day_end(on, zone),
        local_date=on,
        samples=len(drives),
        revision=revision,
        period=on.isoformat(),
        standard=target.id,
        labels={"clean_vehicles": str(clean), "vehicles": str(len(drives)), "target": f"{target.value}%"},
    )


# --- mode share -----------------------------------------------------------------------------------------------------

SOURCE_PRIORITY: tuple[str, ...] = ("smart_card", "mobile_signalling", "travel_survey", "model", "other")
"""When one day has figures from several sources, the first of these is used (never their sum)."""


class ModeDayEntry(TypedDict):
    r: int
    pt: int
    all: int


class ModeShareState(TypedDict):
    v: int
    wm: float | None
    seen: dict[str, Seen]
    days: dict[str, dict[str, dict[str, ModeDayEntry]]]  # day -> source -> event id -> counts


MODE_SHARE_LATENESS = Lateness(dt.timedelta(weeks=4))
"""Allowed lateness of daily mode-share figures (survey figures: weeks)."""


@dataclass(frozen=True)
class ModeShareContext:
    zone: dt.tzinfo
    lateness: Lateness = MODE_SHARE_LATENESS


def new_mode_share_state() -> ModeShareState:
    return {"v": STATE_VERSION, "wm": None, "seen": {}, "days": {}}


def _chosen(sources: dict[str, dict[str, ModeDayEntry]]) -> ModeDayEntry | None:
    for source in SOURCE_PRIORITY:
        entries = sources.get(source)
        if entries:
            return entries[max(entries)]  # several ids for one source and day: the largest id, for determinism
    return None


def process_area(state: ModeShareState | None, rec: ModeShareRecord, ctx: ModeShareContext) -> Result[ModeShareState]:
    current = state or new_mode_share_state()
    t = rec.event_time(ctx.zone).timestamp()
    digest = content_digest(rec)
    outcome = admit(current["seen"], current["wm"], rec.event_id, rec.revision, t, ctx.lateness, digest)
    if not isinstance(outcome, Accepted):
        return Result(current, outcome)
    day = rec.date.isoformat()
    sources = dict(current["days"].get(day, {}))
    sources[rec.source] = {
        **sources.get(rec.source, {}),
        rec.event_id: ModeDayEntry(r=rec.revision, pt=rec.public_transport_trips, all=rec.all_trips),
    }
    old_wm = current["wm"]
    wm = t if old_wm is None else max(old_wm, t)
    days = {**current["days"], day: sources}
    new: ModeShareState = {
        "v": STATE_VERSION,
        "wm": wm,
        "seen": {**current["seen"], rec.event_id: ledger_entry(rec.revision, t, digest)},
        "days": days,
    }
    if prune_due(old_wm, wm, ctx.lateness.allowed_s):
        first_year = dt.datetime.fromtimestamp(wm, ctx.zone).year - 1
        new = {
            **new,
            "seen": prune_seen(new["seen"], wm, ctx.lateness),
            "days": {k: v for k, v in days.items() if int(k[:4]) >= first_year},
        }
    target = plan_target("public_transport_share")
    labels = {"target": f"{target.value}%"}
    out: list[IndicatorRecord] = []
    chosen = _chosen(sources)
    assert chosen is not None
    day_rev = sum(rev_weight(e["r"]) for entries in sources.values() for e in entries.values())
    out.append(
        record(
            cat.PUBLIC_TRANSPORT_SHARE_DAY,
            site=rec.area,
            value=chosen["pt"] / chosen["all"],
            observed_at=day_end(rec.date, ctx.zone),
            local_date=rec.date,
            samples=1,
            revision=day_rev,
            period=day,
            standard=target.id,
            labels={**labels, "public_transport_trips": str(chosen["pt"]), "all_trips": str(chosen["all"])},
        )
    )
    year = day[:4]
    in_year = {d: s for d, s in new["days"].items() if d.startswith(year)}
    picked = [c for s in in_year.values() if (c := _chosen(s)) is not None]
    pt, every = sum(c["pt"] for c in picked), sum(c["all"] for c in picked)
    last = dt.date.fromisoformat(max(in_year))
    out.append(
        record(
            cat.PUBLIC_TRANSPORT_SHARE_YTD,
            site=rec.area,
            value=pt / every,
            observed_at=day_end(last, ctx.zone),
            local_date=last,
            samples=len(picked),
            revision=sum(rev_weight(e["r"]) for s in in_year.values() for es in s.values() for e in es.values()),
            period=year,
            status="provisional",
            standard=target.id,
            labels={**labels, "public_transport_trips": str(pt), "all_trips": str(every)},
        )
    )
    return Result(new, outcome, tuple(out))


def process_route_batch(
    state: BusRouteState | None, counts: Sequence[BusRidership], ctx: BusContext
) -> BatchResult[BusRouteState]:
    """Many counts of one route: the records `process_route` would leave, each day and its baselines emitted once."""
    route = counts[0].route

    def apply(current: BusRouteState | None, count: BusRidership) -> tuple[BusRouteState, Outcome, Touched]:
        new, outcome, intervals, days = apply_count(current, count, ctx)
        return new, outcome, (intervals, days)

    def prunes_at(current: BusRouteState, count: BusRidership) -> bool:
        t = count.interval_start.timestamp()
        wm = current["wm"]
        return prune_due(wm, t if wm is None else max(wm, t), ctx.lateness.allowed_s)

    feed: DeferredFeed[BusRouteState, BusRidership] = DeferredFeed(
        apply=apply,
        settle=lambda current, touched: current,
        emit=lambda current, touched: emit_route(current, route, touched[0], touched[1], ctx),
        prunes_at=prunes_at,
    )
    return run_deferred(feed, state, counts)
