"""Which version of a standard applies on a date: the common header of every table, and the date rule.

Every table carries a `Source`: standard id, version, the local date it takes effect from, the date it stops
applying (exclusive) and the clause it comes from. Computation picks the table whose period holds the observation's
*local* date (the deployment's time zone, see `local_date`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

NO_LOWER_BOUND = dt.date.min
"""Effective-from of the 2012 tables: they apply to every date before their successor. Their own start dates are not
recorded in standards.md and nothing here needs them."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a table or value comes from, and when it applies (from `effective_from`, up to `effective_to` exclusive)."""

    standard: str  # "HJ 633", "GB 3095", "GB 3838", or a plan id
    version: str  # "2012", "2026", "2002", ...
    effective_from: dt.date
    effective_to: dt.date | None
    clause: str

    @property
    def label(self) -> str:
        """The standard as it is cited, e.g. "HJ 633-2026"."""
        return f"{self.standard}-{self.version}"

    def applies_on(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class Versioned(Protocol):
    @property
    def source(self) -> Source: ...


V = TypeVar("V", bound=Versioned)


def select_version(tables: Iterable[V], on: dt.date, *, what: str) -> V:
    """The one table in `tables` that applies on `on`; `LookupError` naming `what` when none or several do."""
    if isinstance(on, dt.datetime):
        raise TypeError(f"pass the observation's local date, not a datetime ({on.isoformat()}); see local_date()")
    matching = [table for table in tables if table.source.applies_on(on)]
    if len(matching) != 1:
        found = "no" if not matching else f"{len(matching)}"
        raise LookupError(f"{found} version of {what} applies on {on.isoformat()}")
    return matching[0]


def local_date(at: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The local calendar date of an aware timestamp in the deployment's zone (a standards 'day' is a local day)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamp {at.isoformat()} has no time zone; give an aware datetime")
    return at.astimezone(zone).date()
