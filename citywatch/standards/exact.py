"""Exact numbers: every concentration, limit and mean is turned into a `Fraction` before any arithmetic.

Floats are read through their shortest decimal repr (0.1 -> 1/10), so a value typed as "35" or 35.0 is exactly 35 and
the IAQI ceiling can never be pushed up by binary rounding error.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

Number = Decimal | Fraction | int | float
"""What the standards functions accept as a measured value."""


def to_fraction(value: Number | str, *, name: str = "value") -> Fraction:
    """`value` as an exact fraction; raise `ValueError` naming `name` for NaN, infinities, booleans and junk."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got the boolean {value!r}")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        return Fraction(Decimal(repr(value)))
    try:
        dec = value if isinstance(value, Decimal) else Decimal(value.strip())
    except (ArithmeticError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    if not dec.is_finite():
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return Fraction(dec)


def to_concentration(value: Number | str, *, name: str = "value") -> Fraction:
    """Like `to_fraction`, and also refuse negative values (no concentration is below zero)."""
    exact = to_fraction(value, name=name)
    if exact < 0:
        raise ValueError(f"{name}: a concentration cannot be negative, got {value!r}")
    return exact


def to_decimal(value: Fraction, places: int) -> Decimal:
    """`value` rounded half-even to `places` decimals, for display and JSON; not a standard's reporting rule."""
    scaled = round(value * 10**places)  # round() on a Fraction is exact and half-even
    return Decimal(scaled).scaleb(-places)


def mean(values: list[Fraction]) -> Fraction:
    """Arithmetic mean of a non-empty list, exactly."""
    if not values:
        raise ValueError("mean of no values")
    return sum(values, Fraction(0)) / len(values)
