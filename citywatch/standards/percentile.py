"""Percentile by the HJ 663 method: sort ascending, k = 1 + (n − 1)·p, interpolate linearly between neighbours.

standards.md / issue 3 mark the method "verify": results built on it carry `PERCENTILE_UNVERIFIED`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from citywatch.standards.exact import Number, to_fraction
from citywatch.standards.tables.hj663 import PERCENTILE_UNVERIFIED

__all__ = ["PERCENTILE_UNVERIFIED", "percentile"]


def percentile(values: Iterable[Number], p: Number) -> Fraction:
    """The `p`-th percentile (p in [0, 1], e.g. Decimal("0.95")) of `values`, exactly.

    With X(1) <= ... <= X(n): k = 1 + (n − 1)·p, s = floor(k), result = X(s) + (X(s+1) − X(s))·(k − s).
    """
    share = to_fraction(p, name="p")
    if not 0 <= share <= 1:
        raise ValueError(f"p: a percentile share must be within [0, 1], got {p!r}")
    ordered = sorted(to_fraction(v, name="percentile value") for v in values)
    if not ordered:
        raise ValueError("percentile of no values")
    k = 1 + (len(ordered) - 1) * share
    s = math.floor(k)
    low = ordered[s - 1]
    if s == len(ordered):
        return low
    return low + (ordered[s] - low) * (k - s)
