"""The second stage, keyed by district: indicators that need every site of a district. Pure.

Site processors emit `Contribution`s (a site's current figures for one bucket, with a revision that grows with
every change); the lead routes them to a topic keyed by district, and `process_district` folds them in: the
highest revision per (stage, bucket, site) wins, an equal one is a duplicate, a lower one stale. Every district
value is recomputed from the bucket's current contributions, so several workers splitting the sites give exactly
the single worker's result, in any arrival order.

Stages: "air.city" (city daily AQI from station-averaged daily values, good-day share), "water.district"
(优Ⅲ share per month and quarter), "bus.fleet" (clean-energy share of vehicles seen per day), "waste"
(district tonnes per day, hazardous tonnes and sorted-waste treatment rate year to date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NotRequired, TypedDict

from citywatch.indicators import catalogue as cat
from citywatch.indicators.eventtime import Accepted, Dropped, Outcome, frac
from citywatch.indicators.records import Contribution, ContributionValue, Result, day_end, record
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards import (
    CityAqi,
    WaterClass,
    city_daily_aqi_of_sums,
    good_day_share,
    good_iii_share,
    plan_target,
)
from citywatch.standards.exact import to_concentration
from citywatch.standards.tables.hj633 import DEFAULT_CONCENTRATION_ROUNDING, ConcentrationRounding

STATE_VERSION = 1


class SiteEntry(TypedDict):
    r: int
    v: dict[str, ContributionValue]


class CityDay(TypedDict):
    """Running sums of one day's station contributions (stage "air.city"), so the city AQI of a day costs the same
    whatever the number of stations: each accepted contribution takes its site's previous values out and puts its
    own in, exactly (Fraction text)."""

    s: dict[str, str]  # input ("pm25_24h", "o3_8h", ...) -> sum of the stations' valid values
    n: dict[str, int]  # input -> stations with a valid value
    rev: int  # Σ the sites' revisions: the output revision of the day's city records
    sites: int  # stations that contributed to the day


class DistrictState(TypedDict):
    v: int
    stages: dict[str, dict[str, dict[str, SiteEntry]]]  # stage -> bucket -> site -> latest contribution
    agg: dict[str, dict[str, int]]  # stage -> bucket -> cached aggregate (city daily AQI)
    city: NotRequired[dict[str, CityDay]]  # "air.city" day -> running sums; rebuilt from `stages` when absent


@dataclass(frozen=True)
class DistrictContext:
    zone: dt.tzinfo
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING  # before the city AQI's IAQI lookup


def new_district_state() -> DistrictState:
    return {"v": STATE_VERSION, "stages": {}, "agg": {}, "city": {}}


def city_days(state: DistrictState) -> dict[str, CityDay]:
    """The state's running sums per day; for a state stored before they were kept, computed once from its sites."""
    if "city" in state:
        return state["city"]
    days: dict[str, CityDay] = {}
    for day, sites in state["stages"].get("air.city", {}).items():
        summed = days[day] = _empty_day()
        for entry in sites.values():
            _add_to_day(summed, entry)
    return days


def _empty_day() -> CityDay:
    return {"s": {}, "n": {}, "rev": 0, "sites": 0}


def _add_to_day(day: CityDay, entry: SiteEntry, sign: int = 1) -> None:
    """Put a site's entry into the day's sums (sign 1) or take it out (sign -1), in place."""
    for name, raw in entry["v"].items():
        value = _fraction(raw)
        if value is None:
            continue
        if sign > 0:
            value = to_concentration(value, name=name)  # a bad value fails its contribution, not the whole day
        total = frac(day["s"].get(name, "0")) + sign * value
        count = day["n"].get(name, 0) + sign
        if count:
            day["s"][name], day["n"][name] = str(total), count
        else:
            day["s"].pop(name, None)
            day["n"].pop(name, None)
    day["rev"] += sign * entry["r"]
    day["sites"] += sign


def apply_contribution(
    state: DistrictState | None,
    c: Contribution,
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> tuple[DistrictState, Outcome]:
    new, outcomes, _ = _fold(state, [c], rounding)
    return new, outcomes[0]


def _fold(
    state: DistrictState | None,
    contributions: Iterable[Contribution],
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> tuple[DistrictState, list[Outcome], dict[tuple[str, str], set[str]]]:
    """Fold contributions into a copy of the state: the new state, an outcome per contribution, and the buckets
    touched per (stage, district).

    A district holds every site's contribution, so the fold works in place on a copy made once per batch (a
    dict copy or a city AQI per contribution would make a batch quadratic in sites) and computes the city AQI
    of each touched day once at the end. The state is what folding one contribution at a time leaves.
    """
    current = state or new_district_state()
    stages = dict(current["stages"])
    agg = dict(current["agg"])
    city = dict(city_days(current))
    copied_stages: set[str] = set()
    copied_buckets: set[tuple[str, str]] = set()
    newest: dict[str, int] = {}
    outcomes: list[Outcome] = []
    touched: dict[tuple[str, str], set[str]] = {}
    city_days_touched: set[str] = set()
    for c in contributions:
        buckets = stages.get(c.stage, {})
        previous = buckets.get(c.bucket, {}).get(c.site)
        if previous is not None and c.revision <= previous["r"]:
            what = f"{c.stage} {c.site} {c.bucket} revision {c.revision}"
            if c.revision == previous["r"]:
                outcomes.append(Dropped("duplicate", f"duplicate: {what}"))
            else:
                outcomes.append(Dropped("stale-revision", f"stale: {what} < {previous['r']}"))
            continue
        if c.stage not in copied_stages:
            buckets = stages[c.stage] = dict(buckets)
            copied_stages.add(c.stage)
            newest[c.stage] = max((int(b[:4]) for b in buckets), default=int(c.bucket[:4]))
        if (c.stage, c.bucket) not in copied_buckets or c.bucket not in buckets:  # not yet copied, or pruned
            buckets[c.bucket] = dict(buckets.get(c.bucket, {}))
            copied_buckets.add((c.stage, c.bucket))
        entry = buckets[c.bucket][c.site] = SiteEntry(r=c.revision, v=dict(c.values))
        if c.stage == "air.city":
            summed = city[c.bucket] = _copy_day(city.get(c.bucket))
            _add_to_day(summed, entry)
            if previous is not None:
                _add_to_day(summed, previous, -1)
        year = int(c.bucket[:4])
        if year > newest[c.stage] or year < newest[c.stage] - 1:
            # Keep this year's and last year's buckets (a bucket older than that is dropped on arrival).
            newest[c.stage] = max(newest[c.stage], year)
            for b in [b for b in buckets if int(b[:4]) < newest[c.stage] - 1]:
                del buckets[b]
        if c.stage == "air.city":
            city_days_touched.add(c.bucket)
        outcomes.append(
            Accepted("new" if previous is None else "correction", None if previous is None else previous["r"])
        )
        touched.setdefault((c.stage, c.district), set()).add(c.bucket)
    if city_days_touched:
        buckets = stages["air.city"]
        city = {d: v for d, v in city.items() if d in buckets}  # days the fold dropped with their buckets
        stage_agg = {b: a for b, a in agg.get("air.city", {}).items() if b in buckets}
        for bucket in sorted(city_days_touched):
            if bucket not in buckets:
                continue
            result = _city_aqi(city[bucket], dt.date.fromisoformat(bucket), rounding)
            if result is None:
                stage_agg.pop(bucket, None)
            else:
                stage_agg[bucket] = result.result.aqi
        agg["air.city"] = stage_agg
    return {"v": STATE_VERSION, "stages": stages, "agg": agg, "city": city}, outcomes, touched


def process_district(state: DistrictState | None, c: Contribution, ctx: DistrictContext) -> Result[DistrictState]:
    """One contribution in; the district's records for its bucket (and year to date) out."""
    new, outcome = apply_contribution(state, c, ctx.rounding)
    if not outcome.accepted:
        return Result(new, outcome)
    return Result(new, outcome, tuple(emit_district(new, c.stage, c.district, [c.bucket], ctx)))


def process_district_batch(
    state: DistrictState | None, contributions: Iterable[Contribution], ctx: DistrictContext
) -> tuple[DistrictState, list[Outcome], list[IndicatorRecord]]:
    """Many contributions of one district: apply all, emit each touched bucket once.

    A contribution of a new year prunes the buckets of two years before; what is pending is emitted before it,
    so a bucket touched and then pruned in one batch still gets the record one contribution at a time gives it.
    """
    current = state or new_district_state()
    newest = {stage: max((int(b[:4]) for b in buckets), default=0) for stage, buckets in current["stages"].items()}
    outcomes: list[Outcome] = []
    records: list[IndicatorRecord] = []
    run: list[Contribution] = []

    def flush() -> None:
        nonlocal current
        current, folded, touched = _fold(current, run, ctx.rounding)
        outcomes.extend(folded)
        for (stage, district), buckets in sorted(touched.items()):
            records.extend(emit_district(current, stage, district, sorted(buckets), ctx))
        run.clear()

    for c in contributions:
        year = int(c.bucket[:4])
        if run and year > newest.get(c.stage, year):
            flush()
        newest[c.stage] = max(newest.get(c.stage, year), year)
        run.append(c)
    flush()
    return current, outcomes, records


# --- archives: years the live state no longer keeps ------------------------------------------------------------------
# The live state keeps this year's and last year's buckets. A site's backfilled history (and the buckets the live
# state drops when a new year begins) go to an archive per year, `<district>@<year>`: a state of the same shape that
# holds one year, so a backfill of 2021 folds into the city's 2021 figures beside every other station's 2021.


def archive_scope(district: str, year: int) -> str:
    """The key (in `district_parts`) of a district's archive of one year."""
    return f"{district}@{year}"


def archive_floor(state: DistrictState | None) -> dict[str, int]:
    """Per stage, the oldest year the live state keeps (its newest year − 1): a contribution of an older year belongs
    to that year's archive."""
    if state is None:
        return {}
    return {stage: max(int(b[:4]) for b in buckets) - 1 for stage, buckets in state["stages"].items() if buckets}


def archive_year(floor: Mapping[str, int], c: Contribution) -> int | None:
    """The archive year a contribution goes to, or None for the live state."""
    year = int(c.bucket[:4])
    return year if year < floor.get(c.stage, year) else None


def scopes_of(district: str, before: DistrictState | None, contributions: Iterable[Contribution]) -> list[str]:
    """The state each contribution folds into: the district's live state, or the archive of its year when the live
    state (as it was before the batch) no longer keeps that year."""
    floor = archive_floor(before)
    out = []
    for c in contributions:
        year = archive_year(floor, c)
        out.append(district if year is None else archive_scope(district, year))
    return out


def rolled_out(
    before: DistrictState | None, after: DistrictState, district: str, folded: Iterable[Contribution]
) -> list[Contribution]:
    """What folding a batch made the live state drop (the buckets of the year two behind a new one), as historical
    contributions for the years' archives: every site entry `before` held in a bucket `after` lacks, and the batch's
    own contributions to such buckets (a bucket can be filled and dropped within one batch)."""
    out: list[Contribution] = []
    kept = after["stages"]
    for stage, buckets in (before or new_district_state())["stages"].items():
        for bucket, sites in buckets.items():
            if bucket not in kept.get(stage, {}):
                out += [_moved(stage, district, bucket, site, e) for site, e in sorted(sites.items())]
    out += [c.model_copy(update={"historical": True}) for c in folded if c.bucket not in kept.get(c.stage, {})]
    return out


def _moved(stage: str, district: str, bucket: str, site: str, entry: SiteEntry) -> Contribution:
    return Contribution(
        stage=stage,
        district=district,
        site=site,
        bucket=bucket,
        values=dict(entry["v"]),
        revision=entry["r"],
        historical=True,
    )


def emit_district(
    state: DistrictState, stage: str, district: str, buckets: Iterable[str], ctx: DistrictContext
) -> list[IndicatorRecord]:
    emitter = _EMITTERS.get(stage)
    if emitter is None:
        raise KeyError(f"unknown district stage {stage!r}; known: {', '.join(_EMITTERS)}")
    all_buckets = state["stages"].get(stage, {})
    out: list[IndicatorRecord] = []
    for bucket in sorted(set(buckets)):
        if bucket in all_buckets:
            out.extend(emitter(state, all_buckets, bucket, district, ctx))
    return out


def _rev(sites: Mapping[str, SiteEntry]) -> int:
    return sum(e["r"] for e in sites.values())


def _fraction(value: ContributionValue) -> Fraction | None:
    if value is None:
        return None
    return Fraction(value) if isinstance(value, int) else frac(value)


def _year_buckets(buckets: Mapping[str, dict[str, SiteEntry]], year: str) -> dict[str, dict[str, SiteEntry]]:
    return {b: s for b, s in buckets.items() if b.startswith(year)}


# --- air: city daily AQI ---------------------------------------------------------------------------------------------


def _city_aqi(day: CityDay, on: dt.date, rounding: ConcentrationRounding) -> CityAqi | None:
    """The day's city AQI from its running sums; None when no station gave a valid value."""
    sums = {name: (frac(total), day["n"][name]) for name, total in sorted(day["s"].items())}
    if not sums:
        return None
    return city_daily_aqi_of_sums(sums, on, rounding)


def _copy_day(day: CityDay | None) -> CityDay:
    if day is None:
        return _empty_day()
    return {"s": dict(day["s"]), "n": dict(day["n"]), "rev": day["rev"], "sites": day["sites"]}


def _emit_city(
    state: DistrictState,
    buckets: Mapping[str, dict[str, SiteEntry]],
    bucket: str,
    district: str,
    ctx: DistrictContext,
) -> list[IndicatorRecord]:
    day = dt.date.fromisoformat(bucket)
    days = city_days(state)
    summed = days[bucket]
    city = _city_aqi(summed, day, ctx.rounding)
    out: list[IndicatorRecord] = []
    end = day_end(day, ctx.zone)
    rev = summed["rev"]
    if city is not None:
        result = city.result
        out.append(
            record(
                cat.CITY_AQI_DAILY,
                site=district,
                value=float(result.aqi),
                observed_at=end,
                local_date=day,
                samples=max(city.stations.values()),
                revision=rev,
                period=bucket,
                standard=result.standard,
                labels={
                    "category": result.category,
                    "primary_pollutants": ",".join(result.primary_pollutants),
                    "stations": str(summed["sites"]),
                },
                unverified=bool(result.unverified),
            )
        )
        if "pm25_24h" in city.concentrations:
            out.append(
                record(
                    cat.CITY_PM25_DAILY_MEAN,
                    site=district,
                    value=float(city.concentrations["pm25_24h"]),
                    observed_at=end,
                    local_date=day,
                    samples=city.stations["pm25_24h"],
                    revision=rev,
                    period=bucket,
                )
            )
    year = bucket[:4]
    daily = {dt.date.fromisoformat(b): a for b, a in state["agg"].get("air.city", {}).items() if b.startswith(year)}
    share = good_day_share(dict(daily))
    if share.fraction is not None:
        last = max(daily)
        out.append(
            record(
                cat.CITY_GOOD_DAY_SHARE_YTD,
                site=district,
                value=float(share.fraction),
                observed_at=day_end(last, ctx.zone),
                local_date=last,
                samples=share.denominator,
                revision=sum(d["rev"] for b, d in days.items() if b.startswith(year)),
                period=year,
                status="provisional",
                labels={"good_days": str(share.numerator), "valid_days": str(share.denominator)},
            )
        )
    return out


# --- water: 优Ⅲ share ------------------------------------------------------------------------------------------------


def _emit_water(
    state: DistrictState,
    buckets: Mapping[str, dict[str, SiteEntry]],
    bucket: str,
    district: str,
    ctx: DistrictContext,
) -> list[IndicatorRecord]:
    sites = buckets[bucket]
    classes = [WaterClass(c) for e in sites.values() if isinstance(c := e["v"].get("class"), int)]
    share = good_iii_share(classes)
    if share.fraction is None:
        return []
    quarter = "Q" in bucket
    _, last = period_days(bucket)
    return [
        record(
            cat.WATER_GOOD_III_SHARE_QUARTER if quarter else cat.WATER_GOOD_III_SHARE_MONTH,
            site=district,
            value=float(share.fraction),
            observed_at=day_end(last, ctx.zone),
            local_date=last,
            samples=share.denominator,
            revision=_rev(sites),
            period=bucket,
            standard="GB 3838-2002",
            labels={"good_iii": str(share.numerator), "sections": str(share.denominator)},
        )
    ]


def period_days(bucket: str) -> tuple[dt.date, dt.date]:
    """First and last day of a month "YYYY-MM" or quarter "YYYYQn"."""
    year = int(bucket[:4])
    if "Q" in bucket:
        q = int(bucket[-1])
        first = dt.date(year, 3 * q - 2, 1)
        months = 3
    else:
        first = dt.date(year, int(bucket[5:7]), 1)
        months = 1
    m = first.month - 1 + months
    nxt = dt.date(year + m // 12, m % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


# --- bus: clean-energy share of vehicles seen --------------------------------------------------------------------------


def _emit_fleet(
    state: DistrictState,
    buckets: Mapping[str, dict[str, SiteEntry]],
    bucket: str,
    district: str,
    ctx: DistrictContext,
) -> list[IndicatorRecord]:
    sites = buckets[bucket]
    vehicles: dict[str, bool] = {}
    for e in sites.values():
        for vehicle, clean in e["v"].items():
            vehicles[vehicle] = vehicles.get(vehicle, False) or clean == 1
    if not vehicles:
        return []
    day = dt.date.fromisoformat(bucket)
    clean = sum(vehicles.values())
    target = plan_target("clean_energy_bus_share")
    return [
        record(
            cat.BUS_CLEAN_ENERGY_SHARE_DAY,
            site=district,
            value=clean / len(vehicles),
            observed_at=day_end(day, ctx.zone),
            local_date=day,
            samples=len(vehicles),
            revision=_rev(sites),
            period=bucket,
            standard=target.id,
            labels={"clean_vehicles": str(clean), "vehicles": str(len(vehicles)), "target": f"{target.value}%"},
        )
    ]


# --- waste: district tonnes, hazardous year to date, sorted-waste treatment rate ------------------------------------


def _sum(sites: Iterable[SiteEntry], name: str) -> tuple[Fraction, int]:
    total, n = Fraction(0), 0
    for e in sites:
        v = _fraction(e["v"].get(name))
        if v is not None:
            total += v
            n += 1
    return total, n


def _emit_waste(
    state: DistrictState,
    buckets: Mapping[str, dict[str, SiteEntry]],
    bucket: str,
    district: str,
    ctx: DistrictContext,
) -> list[IndicatorRecord]:
    day = dt.date.fromisoformat(bucket)
    sites = buckets[bucket]
    out: list[IndicatorRecord] = []
    household, n = _sum(sites.values(), "household_incinerated")
    if n:
        target = plan_target("incineration_capacity")
        out.append(
            record(
                cat.DISTRICT_TONNES_DAY,
                site=district,
                value=float(household),
                observed_at=day_end(day, ctx.zone),
                local_date=day,
                samples=n,
                revision=_rev(sites),
                period=bucket,
                standard=target.id,
                labels={"target": f"{target.value} {target.unit}"},
            )
        )
    year = bucket[:4]
    in_year = _year_buckets(buckets, year)
    entries = [e for s in in_year.values() for e in s.values()]
    last = max(dt.date.fromisoformat(b) for b in in_year)
    rev = sum(_rev(s) for s in in_year.values())
    hazardous, n_h = _sum(entries, "hazardous")
    if n_h:
        target = plan_target("hazardous_incineration_capacity")
        out.append(
            record(
                cat.DISTRICT_HAZARDOUS_YTD,
                site=district,
                value=float(hazardous),
                observed_at=day_end(last, ctx.zone),
                local_date=last,
                samples=n_h,
                revision=rev,
                period=year,
                status="provisional",
                standard=target.id,
                labels={"target": f"{target.value} {target.unit}"},
            )
        )
    collected, n_c = _sum(entries, "sorted_collected")
    treated, _ = _sum(entries, "sorted_treated")
    if n_c and collected > 0:
        target = plan_target("sorted_waste_treatment_rate")
        out.append(
            record(
                cat.DISTRICT_SORTED_TREATMENT_YTD,
                site=district,
                value=float(treated / collected),
                observed_at=day_end(last, ctx.zone),
                local_date=last,
                samples=n_c,
                revision=rev,
                period=year,
                status="provisional",
                standard=target.id,
                labels={"target": f"> {target.value}%"},
            )
        )
    return out


Emitter = Callable[
    [DistrictState, Mapping[str, dict[str, SiteEntry]], str, str, DistrictContext], list[IndicatorRecord]
]
_EMITTERS: dict[str, Emitter] = {
    "air.city": _emit_city,
    "water.district": _emit_water,
    "bus.fleet": _emit_fleet,
    "waste": _emit_waste,
}
STAGES: tuple[str, ...] = tuple(_EMITTERS)
