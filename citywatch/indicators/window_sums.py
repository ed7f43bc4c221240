"""Sums of consecutive hour slots in O(1), exactly: fixed-point integers and prefix sums. Pure.

A station's hour values are exact decimals (35, 12.3 µg/m³, 0.85 mg/m³: whatever resolution the instrument gave)
or, for an hour with several events, their exact mean. Over the slots one emit reads, every value is written as an
integer over one common scale (the lcm of their denominators, i.e. the finest resolution among them), and prefix
sums of those integers give any window's sum and count with two subtractions: a batch of n hours costs O(n) for
its n moving 24 h means instead of O(24 n) Fraction additions, with the very same exact results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from citywatch.standards import FixedSum


class WindowSums:
    """Prefix sums of the values of slots `first`, `first + 1`, … (None = no value in that slot; ints are exact too,
    e.g. the slots' revision weights)."""

    def __init__(self, first: int, values: Sequence[Fraction | int | None]) -> None:
        self.first = first
        self.scale = math.lcm(1, *{v.denominator for v in values if v is not None})
        totals = [0]
        counts = [0]
        total = count = 0
        for v in values:
            if v is not None:
                total += v.numerator * (self.scale // v.denominator)
                count += 1
            totals.append(total)
            counts.append(count)
        self._totals = totals
        self._counts = counts

    def window(self, end: int, hours: int) -> FixedSum:
        """The sum of the slots `end - hours + 1` … `end` (slots outside the values given count as empty)."""
        last = len(self._totals) - 1
        hi = min(max(end + 1 - self.first, 0), last)
        lo = min(max(end + 1 - hours - self.first, 0), last)
        return FixedSum(self._totals[hi] - self._totals[lo], self.scale, self._counts[hi] - self._counts[lo])

    def before(self, end: int, hours: int = 8) -> FixedSum:
        """The sum of the `hours` slots before `end` (`end - hours` … `end - 1`): the O3 window ending at hour `end`."""
        return self.window(end - 1, hours)
