"""A share (count ÷ total) kept as its two integers, so it is exact and can be summed across sites."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Share:
    """`numerator` of `denominator` counted items met the condition (good days of valid days, sections at I-III...)."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if not 0 <= self.numerator <= self.denominator:
            raise ValueError(f"a share needs 0 <= numerator <= denominator, got {self.numerator}/{self.denominator}")

    @property
    def fraction(self) -> Fraction | None:
        """The share in [0, 1]; None when nothing was counted."""
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    @property
    def percent(self) -> Fraction | None:
        """The share in percent; None when nothing was counted."""
        return None if self.fraction is None else self.fraction * 100

    def __add__(self, other: Share) -> Share:
        return Share(self.numerator + other.numerator, self.denominator + other.denominator)
