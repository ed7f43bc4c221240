"""Standards tools: `citywatch aqi` and `citywatch water-class`.

Both print one JSON object on stdout. A bad argument (unknown name, negative or non-numeric value, bad --at)
exits with code 2 and a message on stderr that names the argument.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

import typer

from citywatch.settings import CommonSettings, env_name
from citywatch.standards import AQI_INPUTS, aqi, classify_section, local_date
from citywatch.standards.gb3095 import limits_in_force
from citywatch.standards.gb3838 import WATER_INPUTS
from citywatch.standards.tables.gb3095 import GRADES
from citywatch.standards.tables.hj633 import ConcentrationRounding


class Kind(enum.StrEnum):
    river = "river"
    lake = "lake"


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


def _parse_pairs(
    pairs: list[str], known: tuple[str, ...], *, allow_negative: tuple[str, ...] = ()
) -> dict[str, Decimal]:
    """NAME=VALUE arguments -> {name: Decimal}; exits 2 naming the first bad argument."""
    if not pairs:
        _fail(f"give at least one NAME=VALUE; names: {' '.join(known)}")
    values: dict[str, Decimal] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().lower()
        if not sep:
            _fail(f"argument {pair!r} is not NAME=VALUE")
        if name not in known:
            _fail(f"unknown name {name!r} in argument {pair!r}; expected one of: {' '.join(known)}")
        if name in values:
            _fail(f"argument {pair!r}: {name} is given twice")
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            _fail(f"argument {pair!r}: {text!r} is not a number")
        if not value.is_finite():
            _fail(f"argument {pair!r}: {text!r} is not a finite number")
        if value < 0 and name not in allow_negative:
            _fail(f"argument {pair!r}: {name} cannot be negative")
        values[name] = value
    return values


def _observation_date(at: str | None) -> dt.date:
    zone = CommonSettings().zone
    if at is None:
        return dt.datetime.now(zone).date()
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        _fail(f"--at {at!r} is not an ISO date or datetime (e.g. 2026-05-01T14:00+08:00)")
    if moment.tzinfo is None:
        return moment.date()  # a naive time is already local
    return local_date(moment, zone)


def aqi_command(
    values: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME=VALUE...", help=f"Concentrations (µg/m³, CO mg/m³); names: {' '.join(AQI_INPUTS)}"
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="ISO-DATETIME", help="Observation time; picks HJ 633-2012 or -2026 by local date"),
    ] = None,
    rounding: Annotated[
        ConcentrationRounding | None,
        typer.Option(
            "--rounding",
            help="Round concentrations to their reporting precision before the lookup, or not; default: "
            f"{env_name('aqi_concentration_rounding')} (reported)",
        ),
    ] = None,
) -> None:
    """Air quality index by HJ 633 (version by the observation's local date), as JSON; `rounding` in the output
    says which concentrations were looked up."""
    concentrations = _parse_pairs(values or [], AQI_INPUTS)
    on = _observation_date(at)
    try:
        result = aqi(dict(concentrations), on, rounding or CommonSettings().aqi_concentration_rounding)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result.to_json(), ensure_ascii=False))


def water_class_command(
    values: Annotated[
        list[str] | None,
        typer.Argument(metavar="NAME=VALUE...", help=f"Concentrations (mg/L; pH); names: {' '.join(WATER_INPUTS)}"),
    ] = None,
    kind: Annotated[
        Kind, typer.Option("--kind", help="Section kind: lake/reservoir uses the lake TP limits")
    ] = Kind.river,
) -> None:
    """GB 3838-2002 single-factor water class of a section, as JSON."""
    measured = _parse_pairs(values or [], WATER_INPUTS, allow_negative=("temperature",))
    try:
        result = classify_section(dict(measured), kind.value)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(result.to_json(), ensure_ascii=False))


class Grade(enum.StrEnum):
    I = "I"  # noqa: E741 -- the standard's own name of the grade
    II = "II"


def limits_command(
    at: Annotated[
        str | None,
        typer.Option(
            "--at", metavar="DATE", help="Local date (or ISO datetime) the limits are in force on; default today"
        ),
    ] = None,
    grade: Annotated[Grade | None, typer.Option("--grade", help="Only this grade (default: both)")] = None,
) -> None:
    """GB 3095 concentration limits in force on a date, as JSON, each with its standard, stage and source."""
    on = _observation_date(at)
    limits = limits_in_force(on, (grade.value,) if grade else GRADES)
    typer.echo(json.dumps({"date": on.isoformat(), "limits": [lim.to_json() for lim in limits]}, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the standards commands to the top-level app."""
    app.command("aqi")(aqi_command)
    app.command("limits")(limits_command)
    app.command("water-class")(water_class_command)
