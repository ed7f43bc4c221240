"""Plan attainment over a period: period-to-date accumulator, projection, the mean still required, and a status.

Required mean for the rest of the period = (target · N − Σ) / N_remaining, with N the period's observations (days in
the year, months …) and Σ the sum so far. Status:
- on-track: the projection (the mean so far, continued at the same pace) meets the target;
- at-risk: it does not, but the required mean is within `reach` (default 80 %) of the current pace;
- off-track: beyond that reach, or impossible (the required mean lies outside the indicator's bounds).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from citywatch.standards.exact import Number, to_fraction
from citywatch.standards.tables.plan import Target

DEFAULT_REACH = Fraction(4, 5)


class Status(enum.StrEnum):
    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    OFF_TRACK = "off-track"


@dataclass(frozen=True, slots=True)
class Accumulator:
    """Period to date: `count` observations summing to `total`, of `n_total` the period will have."""

    n_total: int
    count: int = 0
    total: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        if self.n_total <= 0:
            raise ValueError(f"n_total: a period needs at least one observation, got {self.n_total}")
        if not 0 <= self.count <= self.n_total:
            raise ValueError(f"count: expected 0 … {self.n_total} observations, got {self.count}")

    def add(self, value: Number) -> Accumulator:
        """The accumulator with one more observation."""
        return Accumulator(self.n_total, self.count + 1, self.total + to_fraction(value, name="value"))

    def correct(self, old: Number, new: Number) -> Accumulator:
        """The accumulator with an observation already counted as `old` replaced by `new` (a revised reading)."""
        delta = to_fraction(new, name="new") - to_fraction(old, name="old")
        return Accumulator(self.n_total, self.count, self.total + delta)

    @property
    def remaining(self) -> int:
        return self.n_total - self.count

    @property
    def mean(self) -> Fraction | None:
        return self.total / self.count if self.count else None


def required_mean(target: Fraction, acc: Accumulator) -> Fraction | None:
    """(target · N − Σ) / N_remaining: the mean the rest of the period needs so the period mean equals `target`.

    None when the period is complete."""
    if acc.remaining == 0:
        return None
    return (target * acc.n_total - acc.total) / acc.remaining


@dataclass(frozen=True, slots=True)
class Attainment:
    status: Status
    target: Target
    accumulator: Accumulator
    projection: Fraction  # the period mean if the rest continues at the current pace
    required_mean: Fraction | None  # None when the period is complete
    reach: Fraction
    impossible: bool  # the required mean is outside the indicator's bounds (or the period ended short)
    unverified: tuple[str, ...]


def _meets(target: Target, value: Fraction) -> bool:
    goal = Fraction(target.value)
    if target.direction == "at_least":
        return value > goal if target.strict else value >= goal
    if target.direction == "at_most":
        return value < goal if target.strict else value <= goal
    raise ValueError(f"target {target.id!r} is 'about' {target.value} {target.unit} with no tolerance: not projectable")


def _impossible(target: Target, required: Fraction) -> bool:
    if target.direction == "at_least" and target.upper_bound is not None:
        bound = Fraction(target.upper_bound)
        return required > bound or (target.strict and required == bound)
    if target.direction == "at_most" and target.lower_bound is not None:
        bound = Fraction(target.lower_bound)
        return required < bound or (target.strict and required == bound)
    return False


def _within_reach(target: Target, required: Fraction, pace: Fraction, reach: Fraction) -> bool:
    if target.direction == "at_most":  # must come down to `required`: no lower than reach · pace
        return required >= reach * pace
    return pace >= reach * required  # must come up to `required`: the pace is at least reach · required


def attainment(target: Target, acc: Accumulator, *, reach: Number = DEFAULT_REACH) -> Attainment:
    """Project `acc` against `target` and classify it on-track / at-risk / off-track (see the module doc)."""
    reach_exact = to_fraction(reach, name="reach")
    if not 0 < reach_exact <= 1:
        raise ValueError(f"reach: expected a share in (0, 1], got {reach!r}")
    pace = acc.mean
    if pace is None:
        raise ValueError(f"target {target.id!r}: no observations yet, nothing to project")
    required = required_mean(Fraction(target.value), acc)
    unverified = (f"target {target.id} = {target.value} {target.unit}: {target.note}",) if target.unverified else ()
    impossible = (not _meets(target, pace)) if required is None else _impossible(target, required)
    if _meets(target, pace):
        status = Status.ON_TRACK
    elif required is None or impossible:
        status = Status.OFF_TRACK
    else:
        status = Status.AT_RISK if _within_reach(target, required, pace, reach_exact) else Status.OFF_TRACK
    return Attainment(status, target, acc, pace, required, reach_exact, impossible, unverified)


Z_95 = 1.959964  # two-sided 95 % of the normal distribution


def projection_range(values: Sequence[Number], n_total: int) -> tuple[float, float] | None:
    """The 95 % range of the period mean projected from `values` (the period's observations so far).

    The rest of the period is taken to continue at the mean so far; what the projection does not know is that
    mean's error and the rest's own spread, so for the remaining R of N observations, with s the spread of the
    observations so far, the range is projection ± z · R/N · s · √(1/n + 1/R). Days are correlated and seasonal,
    so read it as the least the projection is uncertain by. None with fewer than two observations; the projection
    itself once the period is complete."""
    n = len(values)
    if n < 2:
        return None
    exact = [to_fraction(v, name="value") for v in values]
    total = sum(exact, Fraction(0))
    mean = total / n
    remaining = max(n_total - n, 0)
    projection = float((total + remaining * mean) / max(n_total, n))
    if remaining == 0:
        return projection, projection
    spread = math.sqrt(float(sum((v - mean) ** 2 for v in exact) / (n - 1)))
    half = Z_95 * remaining / n_total * spread * math.sqrt(1 / n + 1 / remaining)
    return projection - half, projection + half
