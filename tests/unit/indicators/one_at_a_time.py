"""Feeding a processor its inputs one at a time, as the worker does without batching."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from citywatch.indicators.records import Contribution
from citywatch.schemas.indicator import IndicatorRecord
from tests.unit.indicators.helpers import shuffle_within


def run_each(
    process: Callable[[Any, Any, Any], Any], inputs: Iterable[Any], ctx: Any
) -> tuple[Any, list[IndicatorRecord], list[Any], list[Contribution]]:
    """(final state, every record emitted, one outcome per input, every contribution) of `process(state, input, ctx)`
    applied to each input in turn from no state."""
    state, records, outcomes, contributions = None, [], [], []
    for item in inputs:
        res = process(state, item, ctx)
        state = res.state
        records += res.records
        outcomes.append(res.outcome)
        contributions += res.contributions
    return state, records, outcomes, contributions


def ordered_and_shuffled(
    run: Callable[[list[Any]], Any],
    items: Sequence[Any],
    times: Sequence[float],
    lateness_s: float,
    offsets: Sequence[float],
) -> tuple[Any, Any]:
    """`run` of the items in event-time order (an original before its revisions), and `run` of them shuffled within
    `lateness_s` (`shuffle_within`), for comparing the two."""
    ordered = sorted(range(len(items)), key=lambda i: (times[i], items[i].revision))
    return run([items[i] for i in ordered]), run(shuffle_within(items, times, lateness_s, offsets))
