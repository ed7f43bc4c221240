"""Event time, allowed lateness, deduplication and corrections: what every processor shares. Pure.

Per key (a site, or a district in the second stage) the state holds a *watermark* (the newest event time accepted,
epoch seconds) and a ledger of the event ids seen with their revision and event time. A record is

- a **duplicate** when its event id is in the ledger with the same revision and content (dropped); a **conflict**
  with the same revision and other content, **stale** with a lower revision (both `Refused`, dead-lettered);
- **too late** when its event time (or, for a correction, the time of the version it replaces) is older than the
  watermark minus the allowed lateness: a `TooLate` outcome with the reason, for the dead-letter topic;
- otherwise **new** or a **correction** (same event id, higher revision), and the processor updates its buckets.

The ledger forgets ids older than the watermark minus the dedup retention (>= the lateness), on hour boundaries
of the cutoff only, so the state after a set of records does not depend on their order (see `prune_due`).

Exact values in state are strings of `Fraction`s ("123/4"): sums of them do not depend on arrival order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import ClassVar, Literal, NotRequired, TypedDict

from citywatch.intake.repeats import conflict_error, stale_error
from citywatch.standards.exact import to_fraction

PRUNE_STEP_S = 3600.0
DAY_S = 86400.0
"""Cutoffs for forgetting state move in whole hours: fewer prunes, same final state whatever the order."""


class Seen(TypedDict):
    r: int  # revision
    t: float  # event time, epoch seconds
    h: NotRequired[str]  # content digest (`content_digest`); absent in ledgers written before it was kept


@dataclass(frozen=True, slots=True)
class Accepted:
    kind: Literal["new", "correction"]
    previous_revision: int | None
    accepted: ClassVar[bool] = True
    dead_letter: ClassVar[bool] = False

    @property
    def reason(self) -> str:
        if self.previous_revision is None:
            return "new"
        return f"correction of revision {self.previous_revision}"


@dataclass(frozen=True, slots=True)
class Dropped:
    """Nothing to do: a duplicate, or a record this processor does not take (`ignored`). (The district stage also
    drops a contribution of a lower revision as `stale-revision`: its own bookkeeping, no publisher's error.)"""

    kind: Literal["duplicate", "stale-revision", "ignored"]
    reason: str
    accepted: ClassVar[bool] = False
    dead_letter: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Refused:
    """A repeat of an event id that does not count: a lower revision than the one processed, or the same revision
    with other content (`citywatch.intake.repeats`). Goes to the dead letters, so the publisher hears of it."""

    kind: Literal["stale-revision", "conflict"]
    reason: str
    field: str = "revision"
    accepted: ClassVar[bool] = False
    dead_letter: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Failed:
    """Processing the record raised: a bug or an input nobody foresaw. Dead-lettered with the exception, so one
    record cannot stop its partition (the worker's batch guard, `citywatch.indicators.batch.guarded`)."""

    reason: str
    kind: Literal["processing-error"] = "processing-error"
    field: str = "(record)"
    accepted: ClassVar[bool] = False
    dead_letter: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class TooLate:
    """Older than the allowed lateness behind the newest accepted event time of its key: goes to the dead letters."""

    event_id: str
    event_time: dt.datetime
    watermark: dt.datetime
    lateness: dt.timedelta
    kind: Literal["too-late"] = "too-late"
    field: str | None = None  # the feed's time field
    accepted: ClassVar[bool] = False
    dead_letter: ClassVar[bool] = True

    @property
    def reason(self) -> str:
        behind = self.watermark - self.event_time
        return (
            f"too late: event time {self.event_time.isoformat()} is {behind} behind the newest accepted "
            f"{self.watermark.isoformat()}; allowed lateness {self.lateness}"
        )


Outcome = Accepted | Dropped | Refused | TooLate | Failed


@dataclass(frozen=True, slots=True)
class Lateness:
    """Allowed lateness of a feed, and how long event ids are kept for dedup (default: twice the lateness,
    at least a day), so a replay after a crash is still recognised as duplicate."""

    allowed: dt.timedelta
    retention: dt.timedelta | None = None

    @property
    def allowed_s(self) -> float:
        return self.allowed.total_seconds()

    @property
    def retention_s(self) -> float:
        if self.retention is not None:
            return max(self.retention.total_seconds(), self.allowed_s)
        return max(2 * self.allowed_s, 86400.0)


def instant(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def admit(
    seen: dict[str, Seen],
    watermark: float | None,
    event_id: str,
    revision: int,
    t: float,
    lateness: Lateness,
    digest: str | None = None,
) -> Outcome:
    """Decide what to do with a record (see the module doc); `digest` is its `content_digest`. Pure: the caller
    records it (`ledger_entry`) when accepted."""
    previous = seen.get(event_id)
    if previous is not None:
        if revision == previous["r"]:
            if digest is not None and previous.get("h", digest) != digest:
                return Refused("conflict", conflict_error(event_id, revision).reason)
            return Dropped("duplicate", f"duplicate: event {event_id} revision {revision} already processed")
        if revision < previous["r"]:
            return Refused("stale-revision", stale_error(event_id, revision, previous["r"]).reason)
    if watermark is not None:
        oldest = t if previous is None else min(t, previous["t"])
        if oldest < watermark - lateness.allowed_s:
            return TooLate(event_id, instant(oldest), instant(watermark), lateness.allowed)
    return Accepted("new" if previous is None else "correction", None if previous is None else previous["r"])


def ledger_entry(revision: int, t: float, digest: str | None) -> Seen:
    """What the dedup ledger keeps of an accepted record."""
    entry = Seen(r=revision, t=t)
    if digest is not None:
        entry["h"] = digest
    return entry


def cutoff(watermark: float, horizon_s: float) -> float:
    """The prune cutoff for a watermark: `watermark - horizon`, floored to whole hours."""
    return (watermark - horizon_s) // PRUNE_STEP_S * PRUNE_STEP_S


def prune_due(old_watermark: float | None, new_watermark: float, horizon_s: float) -> bool:
    """Prune only when the floored cutoff moved: anything accepted since is above it, so the final state is the
    same for every arrival order."""
    return old_watermark is None or cutoff(old_watermark, horizon_s) != cutoff(new_watermark, horizon_s)


def prune_seen(seen: dict[str, Seen], watermark: float, lateness: Lateness) -> dict[str, Seen]:
    edge = cutoff(watermark, lateness.retention_s)
    return {k: v for k, v in seen.items() if v["t"] >= edge}


def fstr(value: Fraction) -> str:
    """A Fraction as state text ("123/4", "7")."""
    return str(value)


@lru_cache(maxsize=1 << 16)
def frac(text: str) -> Fraction:
    """State text back to a Fraction (memoised: the same values are read again for every window they are in)."""
    return Fraction(text)


@lru_cache(maxsize=1 << 16)
def exact(value: float) -> Fraction:
    """A measured float as the exact decimal it was written as (0.1 -> 1/10), like the standards core."""
    return to_fraction(value)


def rev_weight(revision: int) -> int:
    """What one event contributes to a bucket's output revision: 1 + its revision. The sum over a bucket's events
    grows with every accepted change (a new event adds >= 1, a correction raises its revision) and does not depend
    on arrival order."""
    return 1 + revision
