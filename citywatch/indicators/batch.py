"""Many inputs of one site (or one district) at a time: fold them all, then publish each changed bucket once.

The worker takes records from Kafka in batches; publishing every intermediate value of a bucket would cost a
Kafka record each and tell nobody anything the last value does not. The last record per `bucket_key` equals
what the one-by-one run leaves on a compacted indicators topic, so batching changes no result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from citywatch.indicators.eventtime import Failed, Outcome
from citywatch.indicators.records import Contribution, Result
from citywatch.schemas.indicator import IndicatorRecord

S = TypeVar("S")
In = TypeVar("In")


@dataclass(slots=True)
class BatchResult(Generic[S]):
    """The state after the whole batch, one outcome per input (same order), and the final record of every bucket
    the batch changed, in event-time order (so rule evaluation sees a site's windows in the order they happened)."""

    state: S
    outcomes: list[Outcome] = field(default_factory=list)
    records: list[IndicatorRecord] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    history_records: list[IndicatorRecord] = field(default_factory=list)
    """Records of the site's history lane (`citywatch.indicators.lanes`): their rule evaluations are historical."""


def latest_records(records: Iterable[IndicatorRecord]) -> list[IndicatorRecord]:
    """The last record per bucket, ordered by observation time, ties by bucket key: the order must not depend on
    how the inputs were batched (a day's tonnage and the year to date end at the same instant)."""
    last: dict[str, IndicatorRecord] = {}
    for r in records:
        last[r.bucket_key] = r
    return [r for _, r in sorted(last.items(), key=lambda kv: (kv[1].observed_at, kv[0]))]


def latest_contributions(contributions: Iterable[Contribution]) -> list[Contribution]:
    """The last contribution per (stage, district, site, bucket): the district stage keeps only that one anyway."""
    last: dict[tuple[str, str, str, str], Contribution] = {}
    for c in contributions:
        last[(c.stage, c.district, c.site, c.bucket)] = c
    return list(last.values())


def run_batch(process: Callable[[S | None, In], Result[S]], state: S | None, inputs: Iterable[In]) -> BatchResult[S]:
    """Apply `process` to each input in turn, keeping only the final record of each bucket."""
    outcomes: list[Outcome] = []
    records: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    current = state
    for item in inputs:
        result = process(current, item)
        current = result.state
        outcomes.append(result.outcome)
        records.extend(result.records)
        contributions.extend(result.contributions)
    if current is None:
        raise ValueError("run_batch needs at least one input")
    return BatchResult(current, outcomes, latest_records(records), latest_contributions(contributions))


Touched = tuple[set[str], ...]
"""What one input changed, in the feed's own terms (e.g. a bus route's interval keys and local days)."""


@dataclass(frozen=True, slots=True)
class DeferredFeed(Generic[S, In]):
    """How a feed folds inputs in without emitting (`apply`), brings the state up to date for what they touched
    (`settle`, e.g. a day's summary over all its events), emits what they touched (`emit`), and whether folding an
    input may prune state (`prunes_at`)."""

    apply: Callable[[S | None, In], tuple[S, Outcome, Touched]]
    settle: Callable[[S, Touched], S]
    emit: Callable[[S, Touched], tuple[list[IndicatorRecord], list[Contribution]]]
    prunes_at: Callable[[S, In], bool]


def run_deferred(feed: DeferredFeed[S, In], state: S | None, inputs: Iterable[In]) -> BatchResult[S]:
    """`run_batch` for feeds whose per-input work is costly (a day's summary over all its events, a month of
    baselines): fold every input in, then settle and emit what they touched once.

    The same records as one input at a time: a bucket's last one-by-one record is emitted at the last change of
    anything it is computed from, so it equals the one computed from the final state, unless pruning removed its
    inputs in between. So before an input whose fold may prune, what is pending is settled and emitted first.
    """
    outcomes: list[Outcome] = []
    records: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    pending: Touched = ()
    current = state

    def flush(at: S) -> S:
        settled = feed.settle(at, pending)
        out, contrib = feed.emit(settled, pending)
        records.extend(out)
        contributions.extend(contrib)
        return settled

    for item in inputs:
        if current is not None and any(pending) and feed.prunes_at(current, item):
            current = flush(current)
            pending = ()
        current, outcome, touched = feed.apply(current, item)
        outcomes.append(outcome)
        pending = tuple(a | b for a, b in zip(pending, touched, strict=True)) if pending else touched
    if current is None:
        raise ValueError("run_deferred needs at least one input")
    if any(pending):
        current = flush(current)
    return BatchResult(current, outcomes, latest_records(records), latest_contributions(contributions))


def guarded(
    process: Callable[[S | None, Sequence[In]], BatchResult[S]], state: S | None, inputs: Sequence[In]
) -> tuple[BatchResult[S | None], list[tuple[int, Exception]]]:
    """`process` over a batch, never raising: when the batch raises, its inputs are processed again one at a time,
    each on the state the previous ones left, and an input that raises gets a `Failed` outcome (dead-lettered by
    the worker) while the others count. Returns the result and the failures (index, exception) for the log.

    So one record nobody foresaw (a date at the edge of the calendar, a value that breaks an assumption) cannot
    stop its partition: the worker would otherwise re-read it forever (issue 15)."""
    try:
        whole = process(state, inputs)
    except Exception:  # isolate the culprit below
        pass
    else:
        return BatchResult[S | None](
            whole.state, whole.outcomes, whole.records, whole.contributions, whole.history_records
        ), []
    current = state
    outcomes: list[Outcome] = []
    records: list[IndicatorRecord] = []
    history: list[IndicatorRecord] = []
    contributions: list[Contribution] = []
    failures: list[tuple[int, Exception]] = []
    for index, item in enumerate(inputs):
        try:
            one = process(current, [item])
        except Exception as exc:
            failures.append((index, exc))
            outcomes.append(Failed(f"could not be processed ({type(exc).__name__}: {exc}); it was left out"))
            continue
        current = one.state
        outcomes.extend(one.outcomes)
        records.extend(one.records)
        history.extend(one.history_records)
        contributions.extend(one.contributions)
    merged = BatchResult(
        current, outcomes, latest_records(records), latest_contributions(contributions), latest_records(history)
    )
    return merged, failures
