"""Limits and plan targets as Prometheus series by the date in force: `citywatch_standard_limit` and
`citywatch_plan_target`, each a PromQL expression of `time()` built from the versioned tables.

A recording rule stores the series from the day Prometheus starts; a panel draws its threshold line from the same
expression, so a range before that day (2021–2025 history, or 2026-02-20 → 2026-03-10 across GB 3095-2026's start)
shows the value in force at each instant too. The switch happens at local midnight of the deployment's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from citywatch.indicators.catalogue import Indicator
from citywatch.settings import CommonSettings
from citywatch.standards.gb3095 import table_label
from citywatch.standards.tables.gb3095 import GB3095_TABLES, GRADES, UNITS
from citywatch.standards.tables.plan import PLAN_TARGETS, Target
from tools.dashboard_builder.common import target_value

DEPLOYMENT_ZONE = CommonSettings().zone
"""The zone whose local midnight a limit or target changes at (CITYWATCH_TIMEZONE when the dashboards are built)."""

LIMIT_METRIC = "citywatch_standard_limit"
TARGET_METRIC = "citywatch_plan_target"


@dataclass(frozen=True)
class Step:
    """One value in force from `start` (local date, None: always before) up to `end` (exclusive, None: open)."""

    start: dt.date | None
    end: dt.date | None
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def limit_steps(pollutant: str, period: str, grade: str) -> list[Step]:
    """The GB 3095 limit of (pollutant, period, grade) through every version of the table."""
    steps = []
    for table in GB3095_TABLES:
        entry = table.limits.get((pollutant, period, grade))
        if entry is None:
            continue
        start = table.source.effective_from
        steps.append(
            Step(
                None if start == dt.date.min else start,
                table.source.effective_to,
                float(entry.value),
                {"standard": table_label(table)},
            )
        )
    return steps


def target_steps(target: Target, indicator: Indicator | None = None) -> list[Step]:
    """A plan target from the day its plan takes effect (in the indicator's unit when one is given)."""
    value = float(target.value) if indicator is None else target_value(target, indicator)
    start = target.source.effective_from
    return [
        Step(
            None if start == dt.date.min else start,
            target.source.effective_to,
            value,
            {"plan": target.source.standard},
        )
    ]


def _midnight(day: dt.date, zone: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), zone).timestamp())


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def in_force(steps: Sequence[Step], zone: dt.tzinfo, labels: Mapping[str, str] | None = None) -> str:
    """PromQL whose value at any instant is the step in force on that local date, with the step's labels and
    `labels`; no value outside every step."""
    pieces = []
    for step in steps:
        expr = f"vector({step.value:g})"
        for name, text in {**(labels or {}), **step.labels}.items():
            expr = f'label_replace({expr}, "{name}", "{_quoted(text)}", "", "")'
        bounds = []
        if step.start is not None:
            bounds.append(f">= {_midnight(step.start, zone)}")
        if step.end is not None:
            bounds.append(f"< {_midnight(step.end, zone)}")
        if bounds:
            expr = f"({expr} and on() (vector(time()) {' '.join(bounds)}))"
        pieces.append(expr)
    if not pieces:
        raise ValueError("no step to draw")
    return " or ".join(pieces)


def limit_labels(pollutant: str, period: str, grade: str) -> dict[str, str]:
    """The static labels of one `citywatch_standard_limit` series (its recording rule's `labels`)."""
    return {"pollutant": pollutant, "period": period, "grade": grade, "unit": UNITS[pollutant]}


def limit_line(pollutant: str, period: str, grade: str, zone: dt.tzinfo = DEPLOYMENT_ZONE) -> str:
    """What a panel's dashed limit line draws: the same values, labelled only by `standard` (its legend)."""
    return in_force(limit_steps(pollutant, period, grade), zone)


def target_series(target: Target, zone: dt.tzinfo) -> str:
    """The `citywatch_plan_target` series of one plan target, in the plan's unit (its recording rule)."""
    return in_force(target_steps(target), zone)


def target_labels(target: Target) -> dict[str, str]:
    """The static labels of one `citywatch_plan_target` series."""
    return {"target": target.id, "unit": target.unit}


def target_line(target: Target, indicator: Indicator, zone: dt.tzinfo = DEPLOYMENT_ZONE) -> str:
    """What a panel's dashed target line draws: the target in the indicator's unit, labelled by `plan`."""
    return in_force(target_steps(target, indicator), zone)


def described(steps: Sequence[Step], unit: str) -> str:
    """The steps in words for a panel's description: "75 µg/m³ until 2026-02-28, 60 from 2026-03-01, …"."""
    parts: list[str] = []
    for step in steps:
        value = f"{step.value:g} {unit}" if not parts else f"{step.value:g}"
        if step.start is None and step.end is not None:
            parts.append(f"{value} until {(step.end - dt.timedelta(days=1)).isoformat()}")
        elif step.start is not None:
            parts.append(f"{value} from {step.start.isoformat()}")
        else:
            parts.append(value)
    return ", ".join(parts)


def every_limit() -> list[tuple[str, str, str]]:
    """(pollutant, period, grade) of every GB 3095 limit of any version."""
    keys = {key for table in GB3095_TABLES for key in table.limits}
    return sorted(keys, key=lambda k: (list(UNITS).index(k[0]), k[1], GRADES.index(k[2])))


def every_target() -> list[Target]:
    return list(PLAN_TARGETS.values())
