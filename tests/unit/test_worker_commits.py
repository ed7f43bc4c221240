"""The worker's commit policy (streams/faust_workarounds/commits.py): an offset is committed only when every record before it was
processed; a hole in the offsets read counts only where the broker deleted the records."""

from __future__ import annotations

from collections import defaultdict

from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st
from intervaltree import IntervalTree

from streams.faust_workarounds.commits import StrictCommitConsumer, deleted_range, next_commit


def test_the_committed_offset_moves_over_the_run_of_acknowledged_offsets_that_starts_at_it() -> None:
    assert next_commit([100, 101, 102, 105], committed=100) == (103, 3)


def test_one_unacknowledged_record_at_the_head_holds_the_commit() -> None:
    # faust 0.15 let this through: min(acked) - committed == 1 is not "> 1"
    assert next_commit([101, 102, 103], committed=100) == (None, 0)


def test_a_partition_never_committed_commits_from_where_reading_started() -> None:
    assert next_commit([0, 1, 2], committed=None) == (3, 3)
    assert next_commit([], committed=5) == (None, 0)


@given(
    committed=st.integers(0, 50),
    acked=st.sets(st.integers(0, 120), max_size=60),
)
def test_a_commit_never_passes_an_unprocessed_record(committed: int, acked: set[int]) -> None:
    offsets = sorted(o for o in acked if o >= committed)
    offset, n = next_commit(offsets, committed)
    if offset is None:
        assert committed not in acked
        return
    assert set(range(committed, offset)) <= acked  # nothing skipped
    assert offset not in acked  # and nothing processed left behind
    assert n == offset - committed


def test_only_the_part_of_a_hole_the_broker_deleted_counts() -> None:
    assert deleted_range(10, 50, earliest=30) == (10, 29)
    assert deleted_range(10, 50, earliest=80) == (10, 50)
    assert deleted_range(10, 50, earliest=10) is None  # all still there: re-read them
    assert deleted_range(10, 50, earliest=None) is None  # unknown: wait


def _consumer(acked: list[int], committed: int | None, gaps: list[tuple[int, int]] = ()) -> StrictCommitConsumer:
    consumer = object.__new__(StrictCommitConsumer)  # the bookkeeping only: no app, no broker
    tp = TP("feed", 0)
    consumer._acked = defaultdict(list, {tp: list(acked)})
    consumer._acked_index = defaultdict(set, {tp: set(acked)})
    consumer._gap = defaultdict(IntervalTree, {tp: IntervalTree.from_tuples(gaps)})
    consumer._committed_offset = defaultdict(lambda: None, {tp: committed})
    return consumer


def test_the_consumer_holds_its_commit_and_keeps_what_it_cannot_commit_yet() -> None:
    consumer, tp = _consumer([102, 103, 101], committed=100), TP("feed", 0)
    assert consumer._new_offset(tp) is None
    assert sorted(consumer._acked[tp]) == [101, 102, 103]
    consumer._acked[tp].append(100)
    assert consumer._new_offset(tp) == 104
    assert consumer._acked[tp] == []


def test_the_consumer_counts_a_deleted_hole_as_processed() -> None:
    consumer, tp = _consumer([100, 150, 151], committed=100, gaps=[(101, 150)]), TP("feed", 0)
    assert consumer._new_offset(tp) == 152
