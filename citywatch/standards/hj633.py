"""HJ 633 air quality index: IAQI by exact linear interpolation and ceiling, AQI, category, primary pollutants.

The breakpoint table is chosen by the observation's local date (HJ 633-2026 from 2026-03-01). Arithmetic is done
in `Fraction`, so an exact breakpoint gives its exact IAQI (PM2.5 35 -> 50, never 51).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from citywatch.standards.exact import Number, to_concentration
from citywatch.standards.reporting import at_precision
from citywatch.standards.tables.hj633 import (
    ABOVE_TABLE_NOTE,
    CATEGORIES,
    CONCENTRATION_ROUNDING_RULES,
    DEFAULT_CONCENTRATION_ROUNDING,
    EXCEEDING_ABOVE,
    HJ633_TABLES,
    INPUT_COLUMNS,
    PRIMARY_POLLUTANT_ABOVE,
    BreakpointTable,
    Category,
    Column,
    ConcentrationRounding,
)
from citywatch.standards.versions import select_version

AQI_INPUTS = tuple(INPUT_COLUMNS)
"""Accepted input names: `<pollutant>_<period>`, e.g. "pm25_24h", "so2_1h", "o3_8h"."""


@lru_cache(maxsize=4096)
def breakpoint_table(on: dt.date) -> BreakpointTable:
    """The HJ 633 IAQI table that applies on the local date `on`."""
    return select_version(HJ633_TABLES, on, what="HJ 633 IAQI breakpoints")


@dataclass(frozen=True, slots=True)
class SubIndex:
    """The IAQI of one input. `value` is None when the standard computes none (see `note`)."""

    name: str
    pollutant: str
    concentration: Fraction
    value: int | None
    note: str | None = None
    unverified: str | None = None  # why the value is not confirmed against the official text
    use_instead: str | None = None  # the input whose IAQI the standard reports in its place


@dataclass(frozen=True, slots=True)
class _Segment:
    """One stretch of a column between two breakpoints, as integers: c_lo = lo_num / lo_den, c_hi - c_lo =
    span_num / span_den."""

    c_lo: Fraction
    c_hi: Fraction
    iaqi_lo: int
    iaqi_rise: int
    lo_num: int
    lo_den: int
    span_num: int
    span_den: int


_SEGMENTS: dict[int, tuple[Column, tuple[_Segment, ...]]] = {}


def _segments(column: Column) -> tuple[_Segment, ...]:
    """The column's segments, built once per column: the worker interpolates several IAQIs per reading."""
    cached = _SEGMENTS.get(id(column))
    if cached is not None and cached[0] is column:
        return cached[1]
    built = []
    for low, high in itertools.pairwise(column.breakpoints):
        c_lo, c_hi = Fraction(low.concentration), Fraction(high.concentration)
        span = c_hi - c_lo
        built.append(
            _Segment(
                c_lo,
                c_hi,
                low.iaqi,
                high.iaqi - low.iaqi,
                c_lo.numerator,
                c_lo.denominator,
                span.numerator,
                span.denominator,
            )
        )
    segments = tuple(built)
    _SEGMENTS[id(column)] = (column, segments)
    return segments


def interpolate(column: Column, concentration: Fraction) -> int | None:
    """Ceiling of the linear interpolation on `column`; None above its last breakpoint."""
    for seg in _segments(column):
        if seg.c_lo <= concentration <= seg.c_hi:
            # iaqi_lo + rise × (c − c_lo) / span, in integers: c = p/q, c_lo = a/b, span = m/n gives
            # rise × (p·b − a·q) × n / (q·b·m), and ceil(x/y) = −(−x // y) for y > 0.
            p, q = concentration.numerator, concentration.denominator
            above = seg.iaqi_rise * (p * seg.lo_den - seg.lo_num * q) * seg.span_den
            per = q * seg.lo_den * seg.span_num
            return seg.iaqi_lo - (-above // per)
    return None


def sub_index(
    name: str,
    concentration: Number,
    on: dt.date,
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> SubIndex:
    """IAQI of one input (e.g. `sub_index("pm25_24h", 35, date(2025, 1, 1))` -> value 50); `concentration` is the
    value looked up, after `rounding`."""
    return _lookup(_version_on(on), name, concentration, rounding)


def _lookup(version: int, name: str, concentration: Number, rounding: ConcentrationRounding) -> SubIndex:
    if name not in INPUT_COLUMNS:
        raise KeyError(f"unknown AQI input {name!r}; expected one of {', '.join(AQI_INPUTS)}")
    exact = to_concentration(concentration, name=name)
    # Keyed by numerator and denominator: hashing a Fraction costs more than the lookup it saves.
    return _sub_index(version, name, exact.numerator, exact.denominator, rounding)


@lru_cache(maxsize=4096)
def _version_on(on: dt.date) -> int:
    table = breakpoint_table(on)
    return next(i for i, t in enumerate(HJ633_TABLES) if t is table)


@lru_cache(maxsize=1 << 16)
def _sub_index(version: int, name: str, numerator: int, denominator: int, rounding: ConcentrationRounding) -> SubIndex:
    """`sub_index` by the position of its table in HJ633_TABLES (memoised: a station's hourly values repeat, and
    every real-time AQI looks up six of them)."""
    table = HJ633_TABLES[version]
    column = table.columns[INPUT_COLUMNS[name]]
    looked_up = at_precision(Fraction(numerator, denominator), column.unit, rounding)
    value = interpolate(column, looked_up)
    if value is not None:
        return SubIndex(name, column.pollutant, looked_up, value)
    top = column.top.concentration
    overflow = table.overflows.get(column.name)
    if overflow is None:
        note = f"{name} {looked_up} > {top}: {ABOVE_TABLE_NOTE}"
        return SubIndex(name, column.pollutant, looked_up, column.top.iaqi, note, unverified=note)
    if overflow.fixed_iaqi is not None:
        note = f"{name} {looked_up} > {top}: reported as IAQI {overflow.fixed_iaqi} ({overflow.clause})"
        return SubIndex(
            name,
            column.pollutant,
            looked_up,
            overflow.fixed_iaqi,
            note,
            unverified=note if overflow.unverified else None,
        )
    note = f"{name} {looked_up} > {top}: no IAQI on this column; {overflow.use_column} IAQI is reported ({overflow.clause})"
    return SubIndex(name, column.pollutant, looked_up, None, note, use_instead=overflow.use_column)


def category_for(aqi: int) -> Category:
    """The AQI band (level, category, colour) of an AQI value."""
    if aqi < 0:
        raise ValueError(f"AQI cannot be negative, got {aqi}")
    for band in CATEGORIES:
        if band.max_aqi is None or aqi <= band.max_aqi:
            return band
    raise AssertionError("the top band is open")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class AqiResult:
    aqi: int
    iaqi: Mapping[str, int]  # input name -> IAQI, only the inputs that have one
    band: Category  # level, category, colour
    primary_pollutants: tuple[str, ...]  # pollutant ids ("pm25", "o3"), only when AQI > 50; ties all listed
    exceeding: tuple[str, ...]  # pollutant ids with an IAQI > 100 (超标)
    standard: str  # "HJ 633-2012" / "HJ 633-2026"
    clause: str
    on: dt.date
    sub_indices: tuple[SubIndex, ...]
    not_computed: Mapping[str, str] = field(default_factory=dict)  # input name -> why it has no IAQI
    unverified: tuple[str, ...] = ()
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING

    @property
    def level(self) -> str:
        """一级 … 六级"""
        return self.band.level

    @property
    def category(self) -> str:
        """优, 良, 轻度污染 …"""
        return self.band.category

    @property
    def colour(self) -> str:
        """Hex colour of the band, e.g. "#00E400"."""
        return self.band.colour

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (the `citywatch aqi` output)."""
        return {
            "aqi": self.aqi,
            "iaqi": dict(self.iaqi),
            "level": self.band.level,
            "category": self.band.category,
            "colour": self.band.colour,
            "colour_name": self.band.colour_name,
            "primary_pollutants": list(self.primary_pollutants),
            "exceeding": list(self.exceeding),
            "standard": self.standard,
            "clause": self.clause,
            "date": self.on.isoformat(),
            "not_computed": dict(self.not_computed),
            "notes": [s.note for s in self.sub_indices if s.note is not None],
            "unverified": list(self.unverified),
            "rounding": {
                "rule": self.rounding.value,
                "description": CONCENTRATION_ROUNDING_RULES[self.rounding],
                "looked_up": {s.name: _decimal_text(s.concentration) for s in self.sub_indices},
            },
        }


def _decimal_text(value: Fraction) -> str:
    """An exact concentration as decimal text (a terminating fraction gives its digits; others 6 places)."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.6g}"


def aqi(
    concentrations: Mapping[str, Number],
    on: dt.date,
    rounding: ConcentrationRounding = DEFAULT_CONCENTRATION_ROUNDING,
) -> AqiResult:
    """AQI = max IAQI over the given inputs, with its category and primary pollutant(s), by HJ 633 on `on`;
    `rounding` says whether concentrations are rounded to their reporting precision before the lookup.

    Daily report: pass the 24 h means and "o3_8h" (daily max 8 h); real-time report: the 1 h values, "o3_8h" and the
    PM 24 h moving means. Unknown names raise `KeyError`, negative or non-finite values `ValueError`.
    """
    if not concentrations:
        raise ValueError("no concentrations given")
    version = _version_on(on)
    table = HJ633_TABLES[version]
    subs = tuple(_lookup(version, name, value, rounding) for name, value in concentrations.items())
    computed = {s.name: s.value for s in subs if s.value is not None}
    not_computed = {
        s.name: (s.note or "") + ("" if s.use_instead in computed else f"; {s.use_instead} was not given")
        for s in subs
        if s.value is None
    }
    if not computed:
        raise ValueError(f"no IAQI could be computed: {'; '.join(not_computed.values())}")
    result = max(computed.values())
    by_pollutant: dict[str, int] = {}
    for s in subs:
        if s.value is not None:
            by_pollutant[s.pollutant] = max(s.value, by_pollutant.get(s.pollutant, s.value))
    primary = tuple(p for p, v in by_pollutant.items() if v == result) if result > PRIMARY_POLLUTANT_ABOVE else ()
    exceeding = tuple(p for p, v in by_pollutant.items() if v > EXCEEDING_ABOVE)
    unverified = tuple(dict.fromkeys(s.unverified for s in subs if s.unverified is not None))
    return AqiResult(
        aqi=result,
        iaqi=computed,
        band=category_for(result),
        primary_pollutants=primary,
        exceeding=exceeding,
        standard=table.source.label,
        clause=table.source.clause,
        on=on,
        sub_indices=subs,
        not_computed=not_computed,
        unverified=unverified,
        rounding=rounding,
    )
