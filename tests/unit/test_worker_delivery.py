"""The worker's delivery gate (streams/faust_workarounds/delivery.py), run against a model of faust's fetch loop: one partition, a
broker position that fetches advance, batches delivered record by record later, seeks in between.

What must hold in every interleaving: after each seek the stream sees the partition's records exactly in order from
the seek's offset (no jump past a record, so none is lost), and once fetching goes on, every record arrives."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from streams.faust_workarounds.delivery import DeliveryGate

P = "feed[0]"
RECORDS = 40


@dataclass
class FetchLoop:
    gate: DeliveryGate[str] = field(default_factory=DeliveryGate)
    position: int = 0  # the broker-side position fetches read from
    expected: int = 0  # the next offset the stream must see
    batches: deque[tuple[dict[str, int], deque[int]]] = field(default_factory=deque)
    delivered: list[int] = field(default_factory=list)

    def fetch(self, n: int) -> None:
        if not self.gate.fetchable([P]):
            return
        offsets = deque(range(self.position, min(self.position + n, RECORDS)))
        self.position += len(offsets)
        self.batches.append((dict(self.gate.fetch_started()), offsets))

    def deliver(self) -> None:
        while self.batches and not self.batches[0][1]:
            self.batches.popleft()
        if not self.batches:
            return
        fetched_at, offsets = self.batches[0]
        offset = offsets.popleft()
        if self.gate.deliverable(P, fetched_at):
            assert P not in self.gate.held, "a record reached the stream while its partition was held back"
            assert offset == self.expected, f"the stream jumped from {self.expected - 1} to {offset}"
            self.delivered.append(offset)
            self.expected = offset + 1

    def seek(self, back: int, release: bool = False) -> None:
        """Seek to a committed offset at or before the next expected one."""
        self.position = self.expected = max(0, self.expected - back)
        self.gate.sought([P])
        if release:
            self.gate.release()

    def hold(self) -> None:
        self.gate.hold([P])


operations = st.lists(
    st.one_of(
        st.tuples(st.just("fetch"), st.integers(1, 8)),
        st.tuples(st.just("deliver"), st.just(0)),
        st.tuples(st.just("seek"), st.integers(0, 10)),
        st.tuples(st.just("hold"), st.just(0)),
        st.tuples(st.just("release"), st.integers(0, 10)),
    ),
    max_size=80,
)


@given(operations)
def test_every_interleaving_of_fetches_seeks_and_holds_delivers_in_order_and_loses_nothing(
    ops: list[tuple[str, int]],
) -> None:
    loop = FetchLoop()
    for op, n in ops:
        if op == "fetch":
            loop.fetch(n)
        elif op == "deliver":
            loop.deliver()
        elif op == "seek":
            loop.seek(n)
        elif op == "hold":
            loop.hold()
        else:
            loop.seek(n, release=True)
    if loop.gate.held:  # faust's restore ends with a seek to the committed offsets, which releases the inputs
        loop.seek(0, release=True)
    for _ in range(4 * RECORDS):
        loop.fetch(5)
        while loop.batches:
            loop.deliver()
    assert loop.expected == RECORDS, f"records {loop.expected}..{RECORDS - 1} never arrived"


def test_a_record_fetched_before_a_seek_is_refused_and_read_again() -> None:
    loop = FetchLoop()
    loop.fetch(4)  # 0..3
    loop.deliver()
    loop.deliver()  # 0, 1 processed; 2, 3 still in the fetched batch
    loop.seek(2)  # back to the committed offset 0
    loop.deliver()  # 2 would jump: without the gate faust then drops 0 and 1 as already read
    assert loop.delivered == [0, 1]
    loop.fetch(4)
    for _ in range(5):
        loop.deliver()
    assert loop.delivered == [0, 1, 0, 1, 2, 3]


def test_held_inputs_are_not_fetched_nor_delivered_until_the_seek_that_releases_them() -> None:
    loop = FetchLoop()
    loop.fetch(3)  # fetched before the assignment held the partition
    loop.hold()
    loop.fetch(3)
    assert len(loop.batches) == 1, "a held partition was fetched"
    loop.deliver()
    assert loop.delivered == []
    loop.seek(0, release=True)
    loop.fetch(3)
    while loop.batches:
        loop.deliver()
    assert loop.delivered == [0, 1, 2]


def test_an_open_gate_would_let_the_stale_record_through() -> None:
    """The model can fail: with a gate that never refuses, the interleaving above jumps."""

    class OpenGate(DeliveryGate[str]):
        def deliverable(self, partition: str, fetched_at: object) -> bool:  # type: ignore[override]
            return True

    loop = FetchLoop(gate=OpenGate())
    loop.fetch(4)
    loop.deliver()
    loop.deliver()
    loop.seek(2)
    try:
        loop.deliver()
    except AssertionError as exc:
        assert "jumped from -1 to 2" in str(exc)
    else:
        raise AssertionError("an ungated stale record went unnoticed")
