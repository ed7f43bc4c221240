"""Receipts: the worker's verdicts per receipt, the gateway's view of them, and how replay/publish follow one."""

from __future__ import annotations

import httpx

from services.ingest.receipts import view_of
from services.publish.follow import Follower, Totals
from streams.receipts import OUTCOMES_PER_UPDATE, ReceiptBook, receipt_of, source_of
from tools.cli.outcome import EXIT_OK, EXIT_PENDING, EXIT_REJECTED, report


def test_the_book_groups_verdicts_by_department_and_receipt_and_skips_records_without_one() -> None:
    book = ReceiptBook()
    book.note("r1", "environment", "air", source_of("t", 0, 1), "new")
    book.note("r1", "environment", "air", source_of("t", 0, 2), "too-late", "observed_at: too late")
    book.note(None, "environment", "air", source_of("t", 0, 3), "new")
    book.note("r1", "transport", "bus", source_of("u", 1, 7), "duplicate")
    updates = {(u.department, u.receipt): u for u in book.updates()}
    assert updates[("environment", "r1")].outcomes == [("t:0:1", "new"), ("t:0:2", "too-late")]
    assert updates[("environment", "r1")].reasons == ["observed_at: too late"]
    assert updates[("transport", "r1")].outcomes == [("u:1:7", "duplicate")]
    assert receipt_of({"citywatch-receipt": b"abc"}) == "abc" and receipt_of({}) is None
    assert receipt_of({"citywatch-receipt": b"\xff"}) is None


def test_a_receipt_of_many_readings_is_reported_in_updates_under_the_message_limit() -> None:
    """A batch of feed batches can hold a million readings of one receipt: its verdicts go out in parts, every one
    once, the reasons with the first part, each part well under Kafka's 1 MB message limit."""
    book = ReceiptBook()
    count = 2 * OUTCOMES_PER_UPDATE + 3
    for i in range(count):
        source = f"{source_of('citywatch.feed.air.environment', 3, 1_000_000 + i // 1000)}#{i % 1000}"
        book.note("replay-1", "environment", "air", source, "new" if i % 7 else "invalid", "pm25: below zero")
    updates = book.updates()
    assert [len(u.outcomes) for u in updates] == [OUTCOMES_PER_UPDATE, OUTCOMES_PER_UPDATE, 3]
    assert len({source for u in updates for source, _ in u.outcomes}) == count
    assert updates[0].reasons and not updates[1].reasons and not updates[2].reasons
    assert max(len(u.model_dump_json()) for u in updates) < 500_000


def test_the_view_counts_what_counted_what_was_refused_and_what_is_pending() -> None:
    fields = {"feed": "air", "gateway.accepted": "10", "gateway.duplicate": "2", "worker.new": "6",
              "worker.correction": "1", "worker.too-late": "2"}  # fmt: skip
    view = view_of("r1", fields, ["observed_at: too late"])
    assert (view.accepted, view.processed, view.counted, view.refused, view.pending) == (10, 9, 7, 2, 1)
    direct = view_of("r2", {"worker.new": "3"}, [])  # a direct Kafka publisher's receipt: no gateway counts
    assert (direct.accepted, direct.pending) == (3, 0)


def test_following_waits_for_every_reading_and_gives_up_when_nothing_moves() -> None:
    answers = iter([{"accepted": 4, "worker": {"new": 1}}, {"accepted": 4, "worker": {"new": 4}}])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    client = httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(handler))
    totals = Follower(client, {"environment": "k"}, "r1", sleep=lambda s: None).wait(4, 10)
    assert (totals.processed, totals.counted, totals.pending) == (4, 4, 0)

    clock = iter(range(0, 100, 5))
    stuck = httpx.Client(
        base_url="http://gateway",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"accepted": 4, "worker": {"new": 1}})),
    )
    follower = Follower(stuck, {"environment": "k"}, "r1", sleep=lambda s: None, monotonic=lambda: float(next(clock)))
    assert follower.wait(4, 12).pending == 3


def test_exit_codes() -> None:
    import io

    from rich.console import Console

    quiet = Console(file=io.StringIO())
    assert report(quiet, "t", Totals(accepted=2, worker={"new": 2}), 1.0, 2) == EXIT_OK
    assert report(quiet, "t", Totals(accepted=2, worker={"new": 1, "too-late": 1}), 1.0, 2) == EXIT_REJECTED
    assert report(quiet, "t", Totals(accepted=2, worker={"new": 1}), 1.0, 2) == EXIT_PENDING
    assert report(quiet, "t", Totals(accepted=1, worker={"new": 1}), 1.0, 2, local_rejected=1) == EXIT_REJECTED
