"""Air quality per station in event time: hourly values, moving means, daily means with validity, real-time and
daily AQI, O3 daily max 8 h, year to date (annual mean, good days, exceedances, attainment). Pure.

`process_station(state, reading, ctx) -> Result[AirStationState]`; `process_station_batch` applies many readings
of one station and emits each touched bucket once (the last record per bucket equals the one-by-one run).

Buckets: an hourly reading observed at `t` (end of its hour) fills the hour slot starting `t − 1 h`
(slot number = start // 3600). The local day of a slot is the local date of its start, so the hour 23:00–24:00
belongs to its day and `o3_daily_max_8h` gets `hourly[i]` = i:00–(i+1):00. Every value is recomputed from the
slots' values at emit time (exact fractions), never from running float sums, so any arrival order within the
allowed lateness gives the same state and the same last record per bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import NotRequired, TypedDict

from citywatch.indicators import catalogue as cat
from citywatch.indicators.eventtime import (
    Accepted,
    Dropped,
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
from citywatch.indicators.records import Contribution, Result, day_end, day_start_epoch, record
from citywatch.indicators.window_sums import WindowSums
from citywatch.schemas.air import VALID_FLAGS, AirReading, Pollutant
from citywatch.schemas.feed_record import content_digest
from citywatch.schemas.indicator import INSUFFICIENT_DATA, IndicatorRecord, local_date_of
from citywatch.standards import (
    Accumulator,
    Share,
    aqi,
    attainment,
    daily_mean_of_sum,
    eight_hour_mean_of_sum,
    exceedance_days,
    gb3095_limit,
    good_day_share,
    o3_daily_max_8h_of_sums,
    o3_daily_max_8h_unverified,
    pm25_annual_target,
    projection_range,
)
from citywatch.standards import annual_mean as std_annual_mean
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding

POLLUTANTS: tuple[Pollutant, ...] = ("pm25", "pm10", "o3", "no2", "so2", "co")
DAILY_INPUT = {"pm25": "pm25_24h", "pm10": "pm10_24h", "no2": "no2_24h", "so2": "so2_24h", "co": "co_24h"}
REALTIME_INPUT = {
    "pm25": "pm25_24h",  # HJ 633 has no 1 h PM column: the 1 h value against the 24 h column (standards.md §1)
    "pm10": "pm10_24h",
    "so2": "so2_1h",
    "no2": "no2_1h",
    "co": "co_1h",
    "o3": "o3_1h",
}
HOUR = 3600
STATE_VERSION = 1


class AirEvent(TypedDict):
    r: int  # revision
    v: dict[str, float | None]  # pollutant -> value; None when flagged invalid (HJ 212 flag other than N)


class AirDay(TypedDict):
    rev: int  # Σ (1 + revision) over the day's events: the output revision of the day's records
    mean: dict[str, str | None]  # pollutant -> valid 24 h mean (exact), None when < 20 valid hours
    partial: dict[str, str]  # pollutant -> mean of the hours present
    hours: dict[str, int]  # pollutant -> valid hours
    o3_8h: str | None  # valid O3 daily max 8 h
    o3_8h_partial: str | None
    aqi: int | None  # daily AQI from the valid inputs; None when no input is valid


class AirStationState(TypedDict):
    v: int
    wm: float | None  # watermark: newest accepted observation time, epoch seconds
    seen: dict[str, Seen]  # event id -> revision, time (dedup ledger)
    hours: dict[str, dict[str, AirEvent]]  # hour slot -> event id -> event
    days: dict[str, AirDay]  # local day (ISO) -> summary; this year and last
    since: NotRequired[str]  # the first local day (ISO) this state ever took a reading of (lanes: `station_since`)


LATENESS = Lateness(dt.timedelta(hours=6))
"""Allowed lateness of air readings (automatic stations: hours). The air feed's description names it."""


@dataclass(frozen=True)
class AirContext:
    zone: dt.tzinfo
    lateness: Lateness = LATENESS
    grade: str = "II"  # GB 3095 grade of the zone (Wujiang: class-2 zone)
    district: str | None = None  # when set, daily contributions go to the district stage (city AQI)
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING  # before the IAQI lookup


def new_station_state() -> AirStationState:
    return {"v": STATE_VERSION, "wm": None, "seen": {}, "hours": {}, "days": {}}


def slot_of(t: float) -> int:
    return int((t - HOUR) // HOUR)


def _slot_day(slot: int, zone: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(slot * HOUR, zone).date()


def _day_slots(day: dt.date, zone: dt.tzinfo) -> range:
    start = int(day_start_epoch(day, zone)) // HOUR
    end = int(day_start_epoch(day + dt.timedelta(days=1), zone)) // HOUR
    return range(start, end)


@lru_cache(maxsize=4096)
def _gb3095_label(on: dt.date) -> str:
    return gb3095_limit(pollutant="pm25", period="24h", grade="II", on=on).label


# --- applying a reading ---------------------------------------------------------------------------------------------


def apply_reading(
    state: AirStationState | None, reading: AirReading, ctx: AirContext, pending: set[dt.date] | None = None
) -> tuple[AirStationState, Outcome, set[int]]:
    """Fold one reading into the station's state: the new state, the outcome and the hour slots it changed.

    With `pending` (batches), the day summaries are recomputed later by `summarise_pending`, once per day, and
    old hours are pruned by the caller after emitting (a batch may span more than the hours kept)."""
    current = state or new_station_state()
    if reading.averaging_period != "1h":
        return current, Dropped("ignored", "only hourly values (averaging_period 1h) build the station's state"), set()
    t = reading.observed_at.timestamp()
    digest = content_digest(reading)
    outcome = admit(current["seen"], current["wm"], reading.event_id, reading.revision, t, ctx.lateness, digest)
    if not isinstance(outcome, Accepted):
        return current, outcome, set()
    values: dict[str, float | None] = {}
    for p in POLLUTANTS:
        v = getattr(reading, p)
        if v is not None:
            values[p] = float(v) if reading.flag(p) in VALID_FLAGS else None
    hours = dict(current["hours"])
    touched: set[int] = set()
    previous = current["seen"].get(reading.event_id)
    if previous is not None:  # a correction replaces the event, wherever it was
        old = str(slot_of(previous["t"]))
        if old in hours:
            events = dict(hours[old])
            events.pop(reading.event_id, None)
            hours[old] = events
            touched.add(int(old))
    slot = slot_of(t)
    hours[str(slot)] = {**hours.get(str(slot), {}), reading.event_id: {"r": reading.revision, "v": values}}
    touched.add(slot)
    seen = {**current["seen"], reading.event_id: ledger_entry(reading.revision, t, digest)}
    old_wm = current["wm"]
    wm = t if old_wm is None else max(old_wm, t)
    touched_days = {_slot_day(s, ctx.zone) for s in touched}
    new: AirStationState = {"v": STATE_VERSION, "wm": wm, "seen": seen, "hours": hours, "days": current["days"]}
    day = _slot_day(slot, ctx.zone).isoformat()
    since = station_since(current, ctx.zone)
    new["since"] = day if since is None else min(since.isoformat(), day)
    if pending is None:
        new = summarise_pending(new, touched_days, ctx)
    else:
        pending |= touched_days
    if pending is None and prune_due(old_wm, wm, ctx.lateness.allowed_s):
        new = _prune(new, ctx)
    return new, outcome, touched


def summarise_pending(state: AirStationState, pending: Iterable[dt.date], ctx: AirContext) -> AirStationState:
    """Recompute the summaries of the given days from their hours."""
    days = dict(state["days"])
    for day in pending:
        summary = _summarise_day(state["hours"], day, ctx)
        if summary is None:
            days.pop(day.isoformat(), None)
        else:
            days[day.isoformat()] = summary
    return {**state, "days": days}


def station_since(state: AirStationState | None, zone: dt.tzinfo) -> dt.date | None:
    """The first local day a station's state took a reading of; for a state kept before this was recorded, the
    earliest day it still holds."""
    if state is None:
        return None
    if "since" in state:
        return dt.date.fromisoformat(state["since"])
    days = [dt.date.fromisoformat(d) for d in state["days"]]
    days += [_slot_day(int(s), zone) for s, events in state["hours"].items() if events]
    return min(days, default=None)


def reading_day(reading: AirReading, zone: dt.tzinfo) -> dt.date | None:
    """The local day an hourly reading's hour belongs to (its start's day); None for a reading that builds no state
    (a daily mean is kept on the topic but folded into nothing)."""
    if reading.averaging_period != "1h":
        return None
    return _slot_day(slot_of(reading.observed_at.timestamp()), zone)


def _prune(state: AirStationState, ctx: AirContext) -> AirStationState:
    wm = state["wm"]
    assert wm is not None
    # An accepted reading is at most `lateness` old; its day and its 24 h windows reach 26 h further back.
    edge = cutoff(wm, ctx.lateness.allowed_s + 26 * HOUR) // HOUR
    hours = {k: v for k, v in state["hours"].items() if int(k) >= edge and v}
    first_year = dt.datetime.fromtimestamp(wm, ctx.zone).year - 1
    days = {k: v for k, v in state["days"].items() if int(k[:4]) >= first_year}
    return {**state, "seen": prune_seen(state["seen"], wm, ctx.lateness), "hours": hours, "days": days}


def _hour_value(events: Mapping[str, AirEvent] | None, p: str) -> Fraction | None:
    if not events:
        return None
    if len(events) == 1:
        (only,) = events.values()
        v = only["v"].get(p)
        return None if v is None else exact(v)
    present = [exact(v) for e in events.values() if (v := e["v"].get(p)) is not None]
    return sum(present, Fraction(0)) / len(present) if present else None


def _slot_rev(events: Mapping[str, AirEvent] | None) -> int:
    return sum(rev_weight(e["r"]) for e in events.values()) if events else 0


def _summarise_day(hours: Mapping[str, dict[str, AirEvent]], day: dt.date, ctx: AirContext) -> AirDay | None:
    slots = [hours.get(str(s)) for s in _day_slots(day, ctx.zone)]
    rev = sum(_slot_rev(s) for s in slots)
    if rev == 0:
        return None
    summary: AirDay = {
        "rev": rev,
        "mean": {},
        "partial": {},
        "hours": {},
        "o3_8h": None,
        "o3_8h_partial": None,
        "aqi": None,
    }
    inputs: dict[str, Fraction] = {}
    for p in POLLUTANTS:
        hourly = [_hour_value(s, p) for s in slots]
        if all(v is None for v in hourly):
            continue
        sums = WindowSums(0, hourly[:24])  # hour i of the day is slot i
        if p == "o3":
            o3 = o3_daily_max_8h_of_sums(sums.before, day, ctx.grade, ctx.rounding)
            summary["o3_8h"] = None if o3.value is None else fstr(o3.value)
            summary["o3_8h_partial"] = None if o3.partial is None else fstr(o3.partial)
            if o3.value is not None:
                inputs["o3_8h"] = o3.value
            continue
        avg = daily_mean_of_sum(sums.window(23, 24), day)
        summary["hours"][p] = avg.count
        summary["mean"][p] = None if avg.value is None else fstr(avg.value)
        if avg.partial is not None:
            summary["partial"][p] = fstr(avg.partial)
        if avg.value is not None:
            inputs[DAILY_INPUT[p]] = avg.value
    if inputs:
        summary["aqi"] = aqi(inputs, day, ctx.rounding).aqi
    return summary


# --- emitting ------------------------------------------------------------------------------------------------------


def emit(
    state: AirStationState,
    station: str,
    touched: Iterable[int],
    ctx: AirContext,
    peer_days: Mapping[str, AirDay] | None = None,
) -> tuple[list[IndicatorRecord], list[Contribution]]:
    """The records of every bucket the touched slots feed, computed from the state alone; a year's figures also
    count `peer_days`, the days the station's other lane holds (live and history, `citywatch.indicators.lanes`)."""
    touched = sorted(set(touched))
    hours = state["hours"]
    records: list[IndicatorRecord] = []
    for s in touched:
        records.extend(_hourly_records(hours, s, station, ctx))
    windows = [e for e in _reach(touched, 24) if hours.get(str(e))]
    eight = set(_reach(touched, 8))  # windows whose 8 h span holds a touched slot
    slots = _Slots(hours, windows[0] - 23, windows[-1]) if windows else _Slots(hours)
    for e in windows:
        records.extend(_moving_records(slots, e, station, ctx, with_8h=e in eight))
    days = sorted({_slot_day(s, ctx.zone) for s in touched})
    contributions: list[Contribution] = []
    for day in days:
        summary = state["days"].get(day.isoformat())
        if summary is None:
            continue
        records.extend(_daily_records(hours, summary, day, station, ctx))
        if ctx.district is not None:
            contributions.append(_contribution(summary, day, station, ctx.district))
    for year in sorted({d.year for d in days}):
        records.extend(_ytd_records(_with_peer(state["days"], peer_days), year, station, ctx))
    return records, contributions


def _reach(touched: list[int], hours: int) -> list[int]:
    """The window ends of `hours`-long windows holding at least one of the (sorted) touched slots, in order."""
    out: list[int] = []
    for s in touched:
        start = max(s, out[-1] + 1) if out else s
        out.extend(range(start, s + hours))
    return out


def _with_peer(days: Mapping[str, AirDay], peer: Mapping[str, AirDay] | None) -> Mapping[str, AirDay]:
    """A lane's days and its peer's: each day is in one lane only (lanes split by day), a lane's own day wins."""
    return days if not peer else {**peer, **days}


def process_station(state: AirStationState | None, reading: AirReading, ctx: AirContext) -> Result[AirStationState]:
    """One reading in, the station's new state and the records of every bucket it changed out."""
    new, outcome, touched = apply_reading(state, reading, ctx)
    if not touched:
        return Result(new, outcome)
    records, contributions = emit(new, reading.station, touched, ctx)
    return Result(new, outcome, tuple(records), tuple(contributions))


def process_station_batch(
    state: AirStationState | None,
    readings: Iterable[AirReading],
    ctx: AirContext,
    peer_days: Mapping[str, AirDay] | None = None,
) -> tuple[AirStationState, list[Outcome], list[IndicatorRecord], list[Contribution]]:
    """Many readings of one station: apply all, then emit each touched bucket once (its final value). A year's
    figures also count `peer_days` (the station's other lane, `emit`)."""
    current = state or new_station_state()
    first_wm = current["wm"]
    outcomes: list[Outcome] = []
    touched: set[int] = set()
    station = ""
    pending: set[dt.date] = set()
    for reading in readings:
        station = reading.station
        current, outcome, changed = apply_reading(current, reading, ctx, pending)
        outcomes.append(outcome)
        touched |= changed
    current = summarise_pending(current, pending, ctx)
    records: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    if touched:
        records, contributions = emit(current, station, touched, ctx, peer_days)
    if current["wm"] is not None and prune_due(first_wm, current["wm"], ctx.lateness.allowed_s):
        current = _prune(current, ctx)
    return current, outcomes, records, contributions


def _slot_end(slot: int, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp((slot + 1) * HOUR, zone)


@lru_cache(maxsize=1 << 16)
def _period(slot: int, zone: dt.tzinfo) -> str:
    return dt.datetime.fromtimestamp(slot * HOUR, zone).strftime("%Y-%m-%dT%H")


def _hourly_records(
    hours: Mapping[str, dict[str, AirEvent]], slot: int, station: str, ctx: AirContext
) -> list[IndicatorRecord]:
    events = hours.get(str(slot))
    if not events:
        return []
    end = _slot_end(slot, ctx.zone)
    on = local_date_of(end, ctx.zone)
    rev = _slot_rev(events)
    period = _period(slot, ctx.zone)
    standard = _gb3095_label(on)
    out = []
    for p in POLLUTANTS:
        value = _hour_value(events, p)
        if value is None:
            continue
        n = 1 if len(events) == 1 else sum(1 for e in events.values() if e["v"].get(p) is not None)
        out.append(
            record(
                cat.AIR_1H[p],
                site=station,
                value=float(value),
                observed_at=end,
                local_date=on,
                samples=n,
                revision=rev,
                period=period,
                standard=standard,
            )
        )
    return out


class _Slots:
    """Hour values and revision weights of a station's slots, computed once per emit; and, over the slots `lo` …
    `hi` the moving windows read, their fixed-point prefix sums (`WindowSums`)."""

    def __init__(self, hours: Mapping[str, dict[str, AirEvent]], lo: int = 0, hi: int = -1) -> None:
        self.hours = hours
        self.lo, self.hi = lo, hi
        self._values: dict[tuple[int, str], Fraction | None] = {}
        self._revs: dict[int, int] = {}
        self._sums: dict[str, WindowSums] = {}

    def value(self, slot: int, p: str) -> Fraction | None:
        key = (slot, p)
        if key not in self._values:
            self._values[key] = _hour_value(self.hours.get(str(slot)), p)
        return self._values[key]

    def rev(self, slot: int) -> int:
        if slot not in self._revs:
            self._revs[slot] = _slot_rev(self.hours.get(str(slot)))
        return self._revs[slot]

    def sums(self, p: str) -> WindowSums:
        """Prefix sums of pollutant `p` (or of the revision weights, `p` = "rev") over the slots `lo` … `hi`."""
        if p not in self._sums:
            span = range(self.lo, self.hi + 1)
            values = [self.rev(s) for s in span] if p == "rev" else [self.value(s, p) for s in span]
            self._sums[p] = WindowSums(self.lo, values)
        return self._sums[p]


def _moving_records(slots: _Slots, e: int, station: str, ctx: AirContext, *, with_8h: bool) -> list[IndicatorRecord]:
    end = _slot_end(e, ctx.zone)
    on = local_date_of(end, ctx.zone)
    period = _period(e, ctx.zone)
    rev24 = slots.sums("rev").window(e, 24).total
    out = []
    for p, indicator in (("pm25", cat.PM25_MEAN_24H), ("pm10", cat.PM10_MEAN_24H)):
        avg = daily_mean_of_sum(slots.sums(p).window(e, 24), on)
        if avg.partial is None:
            continue
        out.append(
            record(
                indicator,
                site=station,
                value=float(avg.partial),
                observed_at=end,
                local_date=on,
                samples=avg.count,
                revision=rev24,
                period=period,
                status="valid" if avg.valid else INSUFFICIENT_DATA,
                standard=_gb3095_label(on),
                unverified=bool(avg.unverified),
            )
        )
    if not with_8h:
        return out
    rev8 = slots.sums("rev").window(e, 8).total
    o3_8h = eight_hour_mean_of_sum(slots.sums("o3").window(e, 8), on)
    if o3_8h.partial is not None:
        out.append(
            record(
                cat.O3_MEAN_8H,
                site=station,
                value=float(o3_8h.partial),
                observed_at=end,
                local_date=on,
                samples=o3_8h.count,
                revision=rev8,
                period=period,
                status="valid" if o3_8h.valid else INSUFFICIENT_DATA,
                standard=_gb3095_label(on),
                unverified=bool(o3_8h.unverified),
            )
        )
    inputs: dict[str, Fraction] = {}
    for p, name in REALTIME_INPUT.items():
        value = slots.value(e, p)
        if value is not None:
            inputs[name] = value
    if o3_8h.value is not None:
        inputs["o3_8h"] = o3_8h.value
    if inputs:
        try:
            result = aqi(inputs, on, ctx.rounding)
        except ValueError:  # e.g. only an SO2 1 h value above 800: the standard computes no IAQI from it
            return out
        out.append(
            record(
                cat.AQI_REALTIME,
                site=station,
                value=float(result.aqi),
                observed_at=end,
                local_date=on,
                samples=len(result.iaqi),
                revision=rev8,
                period=period,
                standard=result.standard,
                labels=_aqi_labels(result.category, result.primary_pollutants),
                unverified=bool(result.unverified),
            )
        )
    return out


def _aqi_labels(category: str, primary: tuple[str, ...]) -> dict[str, str]:
    return {"category": category, "primary_pollutants": ",".join(primary)}


def _daily_records(
    hours: Mapping[str, dict[str, AirEvent]], summary: AirDay, day: dt.date, station: str, ctx: AirContext
) -> list[IndicatorRecord]:
    end = day_end(day, ctx.zone)
    period = day.isoformat()
    rev = summary["rev"]
    out = []
    partial_inputs: dict[str, Fraction] = {}
    for p, indicator in cat.AIR_DAILY_MEAN.items():
        if p not in summary["partial"]:
            continue
        valid = summary["mean"].get(p)
        value = frac(valid if valid is not None else summary["partial"][p])
        partial_inputs[DAILY_INPUT[p]] = value
        out.append(
            record(
                indicator,
                site=station,
                value=float(value),
                observed_at=end,
                local_date=day,
                samples=summary["hours"][p],
                revision=rev,
                period=period,
                status="valid" if valid is not None else INSUFFICIENT_DATA,
                standard=_gb3095_label(day),
            )
        )
    if summary["o3_8h_partial"] is not None:
        o3 = frac(summary["o3_8h"] if summary["o3_8h"] is not None else summary["o3_8h_partial"])
        partial_inputs["o3_8h"] = o3
        out.append(
            record(
                cat.O3_DAILY_MAX_8H,
                site=station,
                value=float(o3),
                observed_at=end,
                local_date=day,
                samples=sum(1 for k in _day_slots(day, ctx.zone) if _hour_value(hours.get(str(k)), "o3") is not None),
                revision=rev,
                period=period,
                status="valid" if summary["o3_8h"] is not None else INSUFFICIENT_DATA,
                standard=_gb3095_label(day),
                unverified=bool(o3_daily_max_8h_unverified(day)),
            )
        )
    valid_inputs = {n: v for n, v in _valid_daily_inputs(summary).items() if v is not None}
    inputs = valid_inputs or partial_inputs
    if inputs:
        try:
            result = aqi(inputs, day, ctx.rounding)
        except ValueError:
            return out
        out.append(
            record(
                cat.AQI_DAILY,
                site=station,
                value=float(result.aqi),
                observed_at=end,
                local_date=day,
                samples=len(inputs),
                revision=rev,
                period=period,
                status="valid" if valid_inputs else INSUFFICIENT_DATA,
                standard=result.standard,
                labels=_aqi_labels(result.category, result.primary_pollutants),
                unverified=bool(result.unverified),
            )
        )
    return out


def _valid_daily_inputs(summary: AirDay) -> dict[str, Fraction | None]:
    inputs: dict[str, Fraction | None] = {}
    for p, name in DAILY_INPUT.items():
        if p in summary["partial"]:
            mean = summary["mean"].get(p)
            inputs[name] = None if mean is None else frac(mean)
    if summary["o3_8h_partial"] is not None:
        inputs["o3_8h"] = None if summary["o3_8h"] is None else frac(summary["o3_8h"])
    return inputs


def _contribution(summary: AirDay, day: dt.date, station: str, district: str) -> Contribution:
    values: dict[str, str | int | None] = {
        name: None if v is None else fstr(v) for name, v in _valid_daily_inputs(summary).items()
    }
    return Contribution(
        stage="air.city",
        district=district,
        site=station,
        bucket=day.isoformat(),
        values=values,
        revision=summary["rev"],
    )


def _ytd_records(days: Mapping[str, AirDay], year: int, station: str, ctx: AirContext) -> list[IndicatorRecord]:
    in_year = {dt.date.fromisoformat(k): v for k, v in days.items() if k.startswith(f"{year}-")}
    if not in_year:
        return []
    last = max(in_year)
    end = day_end(last, ctx.zone)
    rev = sum(v["rev"] for v in in_year.values())
    period = str(year)
    out: list[IndicatorRecord] = []
    pm25 = {d: (None if (m := v["mean"].get("pm25")) is None else frac(m)) for d, v in in_year.items()}
    pm25_days = {d: v for d, v in pm25.items() if d in in_year and "pm25" in in_year[d]["partial"]}
    if pm25_days:
        annual = std_annual_mean(pm25_days, year)
        if annual.partial is not None:
            out.append(
                record(
                    cat.PM25_ANNUAL_MEAN_YTD,
                    site=station,
                    value=float(annual.partial),
                    observed_at=end,
                    local_date=last,
                    samples=annual.count,
                    revision=rev,
                    period=period,
                    status="valid" if annual.valid else "provisional",
                    standard=gb3095_limit(pollutant="pm25", period="annual", grade=ctx.grade, on=last).label,
                    labels={"required_days": str(annual.required)},
                    unverified=bool(annual.unverified),
                )
            )
            target = pm25_annual_target(dt.date(year, 12, 31), ctx.grade)
            total = sum((v for v in pm25_days.values() if v is not None), Fraction(0))
            acc = Accumulator(n_total=366 if _leap(year) else 365, count=annual.count, total=total)
            att = attainment(target, acc)
            spread = projection_range([v for v in pm25_days.values() if v is not None], acc.n_total)
            out.append(
                record(
                    cat.PM25_ATTAINMENT,
                    site=station,
                    value=float(att.projection),
                    observed_at=end,
                    local_date=last,
                    samples=acc.count,
                    revision=rev,
                    period=period,
                    status=att.status.value,
                    standard=target.source.label,
                    labels={
                        "target": str(target.value),
                        "required_mean": "" if att.required_mean is None else f"{float(att.required_mean):.6g}",
                        "impossible": str(att.impossible).lower(),
                        **(
                            {}
                            if spread is None
                            else {"projection_low": f"{spread[0]:.1f}", "projection_high": f"{spread[1]:.1f}"}
                        ),
                    },
                    unverified=bool(att.unverified),
                )
            )
        out.append(
            _exceedance_record(
                cat.PM25_EXCEEDANCE_DAYS_YTD, "pm25", "24h", pm25_days, ctx, station, end, last, rev, period
            )
        )
    o3 = {d: (None if v["o3_8h"] is None else frac(v["o3_8h"])) for d, v in in_year.items() if v["o3_8h_partial"]}
    if o3:
        out.append(_exceedance_record(cat.O3_EXCEEDANCE_DAYS_YTD, "o3", "8h", o3, ctx, station, end, last, rev, period))
    share = sum((_good_day(d, v["aqi"]) for d, v in in_year.items()), Share(0, 0))
    if share.fraction is not None:
        out.append(
            record(
                cat.GOOD_DAY_SHARE_YTD,
                site=station,
                value=float(share.fraction),
                observed_at=end,
                local_date=last,
                samples=share.denominator,
                revision=rev,
                period=period,
                status="provisional",
                labels={"good_days": str(share.numerator), "valid_days": str(share.denominator)},
            )
        )
    return out


@lru_cache(maxsize=1 << 16)
def _exceeds_on(
    pollutant: str, period: str, day: dt.date, value: Fraction, grade: str, rounding: ConcentrationRounding
) -> tuple[bool, bool]:
    """One day through `exceedance_days` (memoised: a year's days are re-read on every emit)."""
    result = exceedance_days(pollutant, period, {day: value}, grade=grade, rounding=rounding)
    return result.count == 1, bool(result.unverified)


def _exceedance_record(
    indicator: cat.Indicator,
    pollutant: str,
    averaging: str,
    daily: Mapping[dt.date, Fraction | None],
    ctx: AirContext,
    station: str,
    end: dt.datetime,
    last: dt.date,
    rev: int,
    period: str,
) -> IndicatorRecord:
    """Year-to-date exceedance days of one pollutant, provisional until the year's data are in."""
    count, valid, unverified = _exceedances(pollutant, averaging, daily, ctx)
    return record(
        indicator,
        site=station,
        value=float(count),
        observed_at=end,
        local_date=last,
        samples=valid,
        revision=rev,
        period=period,
        status="provisional",
        standard=_gb3095_label(last),
        unverified=unverified,
    )


def _exceedances(
    pollutant: str, period: str, daily: Mapping[dt.date, Fraction | None], ctx: AirContext
) -> tuple[int, int, bool]:
    """(days over the limit of their day, valid days, unverified) — `exceedance_days` day by day."""
    checked = [
        _exceeds_on(pollutant, period, d, v, ctx.grade, ctx.rounding) for d, v in sorted(daily.items()) if v is not None
    ]
    return sum(over for over, _ in checked), len(checked), any(u for _, u in checked)


@lru_cache(maxsize=1 << 16)
def _good_day(day: dt.date, daily_aqi: int | None) -> Share:
    return good_day_share({day: daily_aqi})


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
