"""Targets the attainment is judged against: the plan's own numbers, the GB 3095 limit as the PM2.5 target, and
configured values (district air and water targets are configuration, recorded with their source)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from citywatch.standards.exact import to_fraction
from citywatch.standards.gb3095 import gb3095_limit
from citywatch.standards.tables.plan import PLAN_TARGETS, Target
from citywatch.standards.versions import Source

__all__ = ["PLAN_TARGETS", "Target", "configured_target", "plan_target", "pm25_annual_target", "target_on"]

PM25_ANNUAL_TARGET_ID = "pm25_annual_mean"
"""The target id catalogue entries and rules use for `pm25_annual_target` (the GB 3095 annual limit by date)."""


def plan_target(target_id: str) -> Target:
    """One of the plan's numeric targets, e.g. `plan_target("public_transport_share")`."""
    try:
        return PLAN_TARGETS[target_id]
    except KeyError:
        raise KeyError(f"unknown plan target {target_id!r}; expected one of {', '.join(PLAN_TARGETS)}") from None


def target_on(target_id: str, on: dt.date) -> Target:
    """The target a catalogue entry or rule names, as it stands on the local date `on`: the PM2.5 annual target
    (`PM25_ANNUAL_TARGET_ID`, by date) or one of the plan's; `KeyError` for an unknown id."""
    return pm25_annual_target(on) if target_id == PM25_ANNUAL_TARGET_ID else plan_target(target_id)


def pm25_annual_target(on: dt.date, grade: str = "II") -> Target:
    """The PM2.5 annual-mean target by default: the GB 3095 annual limit in force on `on` (the plan sets none)."""
    limit = gb3095_limit(pollutant="pm25", period="annual", grade=grade, on=on)
    return Target(
        id=PM25_ANNUAL_TARGET_ID,
        description=f"PM2.5 annual mean within the GB 3095 Grade {grade} limit",
        value=limit.value,
        unit=limit.unit,
        direction="at_most",
        strict=False,
        source=Source(limit.standard, limit.version, limit.effective_from, limit.effective_to, limit.clause),
        quote=f"{limit.label}: PM2.5 annual Grade {grade} {limit.value} {limit.unit}",
        due=None,
        lower_bound=Decimal(0),
        upper_bound=None,
        unverified=limit.unverified,
        note=limit.note,
    )


def configured_target(
    *,
    target_id: str,
    value: Decimal | int | str,
    unit: str,
    direction: str,
    source: str,
    strict: bool = False,
    lower_bound: Decimal | int | str | None = None,
    upper_bound: Decimal | int | str | None = None,
    due: dt.date | None = None,
    effective_from: dt.date = dt.date.min,
) -> Target:
    """A target set by configuration (good-day share, 优Ⅲ share, a district PM2.5 goal …); `source` must say who set
    it and where (document, clause), and is carried into every output."""
    if not source.strip():
        raise ValueError(f"target {target_id!r}: a configured target needs its source")
    exact = _decimal(value, "value")
    assert exact is not None
    return Target(
        id=target_id,
        description=target_id,
        value=exact,
        unit=unit,
        direction=direction,
        strict=strict,
        source=Source("configuration", "", effective_from, None, source),
        quote=source,
        due=due,
        lower_bound=_decimal(lower_bound, "lower_bound"),
        upper_bound=_decimal(upper_bound, "upper_bound"),
    )


def _decimal(value: Decimal | int | str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    to_fraction(value, name=name)  # refuses junk, NaN and infinities, naming the argument
    return Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
