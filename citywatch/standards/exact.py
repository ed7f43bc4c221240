"""Exact numbers: every concentration, limit and mean is turned into a `Fraction` before any arithmetic.

Floats are read through their shortest decimal repr (0.1 -> 1/10), so a value typed as "35" or 35.0 is exactly 35 and
the IAQI ceiling can never be pushed up by binary rounding error.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

Number = Decimal | Fraction | int | float
"""What the standards functions accept as a measured value."""


def to_fraction(value: Number | str, *, name: str = "value") -> Fraction:
    """`value` as an exact fraction; raise `ValueError` naming `name` for NaN, infinities, booleans and junk."""
    if type(value) is Fraction:
        return value  # immutable: no copy needed (the hot path of the means, fed with converted values)
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number, got the boolean {value!r}")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        return _float_fraction(value)
    try:
        dec = value if isinstance(value, Decimal) else Decimal(value.strip())
    except (ArithmeticError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    if not dec.is_finite():
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return Fraction(dec)


@lru_cache(maxsize=1 << 16)
def _float_fraction(value: float) -> Fraction:
    """A float read through its shortest repr; cached, as measured values repeat across every window they are in."""
    return Fraction(Decimal(repr(value)))


def to_concentration(value: Number | str, *, name: str = "value") -> Fraction:
    """Like `to_fraction`, and also refuse negative values (no concentration is below zero)."""
    exact = to_fraction(value, name=name)
    if exact.numerator < 0:  # the denominator is always positive; an int comparison is far cheaper
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
    # Summed over one common denominator in integers: the same exact value as adding Fractions one by one (which
    # reduces by a gcd at every step), many times faster for the 24 values of every moving window.
    denominator = math.lcm(*(v.denominator for v in values))
    total = sum(v.numerator * (denominator // v.denominator) for v in values)
    return Fraction(total, denominator * len(values))
