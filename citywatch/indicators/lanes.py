"""History beside live data: a site's two lanes, split by day. Pure.

A site that receives live readings has moved its event time (watermark) to now; years of history sent to it would
be "too late" and its state keeps only the hours it still needs. So a site's history is processed in a lane of its
own: a second state of the same shape (`history:<site>` in the worker's table), with its own watermark, folded by
the same processor into the same indicator buckets. The two lanes split the calendar at the live lane's first day
(`since`):

- a reading of a day before `since` goes to the history lane, of `since` or later to the live lane, whatever way
  it was sent (so no day, and no bucket of a day, is ever computed by both);
- a site without live state takes history-marked readings into its history lane; its first live reading then
  *adopts* the history state as its live state (the history simply continues live), and a history lane starts
  afresh for days before it;
- a year's figures count the days of both lanes (`peer` days), so the year in which live data began is whole;
- rule evaluations of the history lane are *historical*: recorded as incidents, never sent to on-call (the worker
  evaluates its records with a second rule engine, docs/architecture.md).

Within a lane, readings must come in event time within the feed's lateness, as live readings do: a backfill sends
a site's history in time order (`citywatch replay --backfill` sorts it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from citywatch.indicators.batch import BatchResult, latest_contributions, latest_records
from citywatch.indicators.eventtime import Outcome
from citywatch.indicators.records import Contribution
from citywatch.schemas.indicator import IndicatorRecord

S = TypeVar("S")
In = TypeVar("In")
Lane = Literal["live", "history"]


@dataclass(frozen=True)
class Lanes(Generic[S]):
    """A site's live state and history state (either may be None)."""

    live: S | None = None
    history: S | None = None


@dataclass(frozen=True)
class LaneProcessor(Generic[S, In]):
    """What the lanes need of a feed's processor: a batch of one lane against that lane's state, with the other
    lane's state as its peer (for year figures); the day an input belongs to (None: it builds no state, so either
    lane will do); and a state's first day."""

    process: Callable[[S | None, Sequence[In], S | None], BatchResult[S]]
    day_of: Callable[[In], dt.date | None]
    since_of: Callable[[S | None], dt.date | None]


def history_key(site: str) -> str:
    """The worker table's key of a site's history lane (beside its live state, under the site id)."""
    return f"history:{site}"


def route(live_since: dt.date | None, history_marked: bool, day: dt.date | None) -> Lane:
    """Which lane takes an input, given the live lane's first day (None: no live state)."""
    if live_since is None:
        return "history" if history_marked else "live"
    if day is not None and day < live_since:
        return "history"
    return "live"


def run_lanes(
    processor: LaneProcessor[S, In], lanes: Lanes[S] | None, inputs: Sequence[tuple[In, bool]]
) -> BatchResult[Lanes[S]]:
    """Fold a batch of one site's inputs, each marked whether it was sent as history, into its lanes: both states,
    an outcome per input (in order), the live lane's records (`records`) and the history lane's (`history_records`);
    the history lane's contributions are marked historical.

    Inputs are routed in order; consecutive inputs of one lane are folded as one batch (a switch of lane, or an
    adoption, ends the run), so the states after the batch are those of folding the inputs one at a time."""
    live, history = (lanes.live, lanes.history) if lanes is not None else (None, None)
    outcomes: list[Outcome] = []
    records: dict[Lane, list[IndicatorRecord]] = {"live": [], "history": []}
    contributions: list[Contribution] = []
    run: list[In] = []
    run_lane: Lane | None = None
    opening: dt.date | None = None  # the first day of a live lane the open run creates

    def flush() -> None:
        nonlocal live, history, run_lane, opening
        if run and run_lane == "live":
            done = processor.process(live, run, history)
            live = done.state
            contributions.extend(done.contributions)
        elif run:
            done = processor.process(history, run, live)
            history = done.state
            contributions.extend(c.model_copy(update={"historical": True}) for c in done.contributions)
        if run:
            outcomes.extend(done.outcomes)
            records["live" if run_lane == "live" else "history"].extend(done.records)
        run.clear()
        run_lane, opening = None, None

    for item, history_marked in inputs:
        day = processor.day_of(item)
        since = opening or processor.since_of(live)
        if since is None and not history_marked and day is not None:
            flush()
            if processor.since_of(history) is not None:  # the history continues as the live lane
                live, history = history, None
                since = processor.since_of(live)
            else:
                since = opening = day
        lane = route(since, history_marked, day)
        if lane != run_lane:
            kept = opening if lane == "live" else None
            flush()
            opening = kept
        run_lane = lane
        run.append(item)
    flush()
    return BatchResult(
        Lanes(live, history),
        outcomes,
        latest_records(records["live"]),
        latest_contributions(contributions),
        latest_records(records["history"]),
    )
