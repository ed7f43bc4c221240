"""Consecutive runs of sorted values (days, years), for text like "2004–2026, 2028" or "12-02 → 12-04". Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T", int, dt.date)


def consecutive_runs(values: Iterable[T], successor: Callable[[T], T]) -> list[tuple[T, T]]:
    """(first, last) of each run of the distinct `values` in order, where a run continues while the next value is
    `successor` of the last."""
    runs: list[tuple[T, T]] = []
    for value in sorted(set(values)):
        if runs and value == successor(runs[-1][1]):
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs
