"""How `citywatch replay` and `citywatch publish` report what became of the readings they sent."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from citywatch.schemas.receipt import REFUSALS
from services.publish.follow import Totals

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_BROKER, EXIT_PENDING = 0, 1, 2, 3, 4
"""0 every reading counted (or was already counted); 1 some were refused (the gateway, the worker, or the local
check); 2 usage error; 3 the broker refused or did not answer (publish); 4 some were not processed in time."""


def outcome_table(
    title: str, totals: Totals, elapsed_s: float, sent: int, local_rejected: int = 0, skipped: int = 0
) -> Table:
    """What became of every row of a file: not sent, refused by the gateway, already published, accepted; and of
    the accepted ones, what the worker decided."""
    table = Table(title=title, show_header=False)
    table.add_row("read", str(sent + skipped))
    if skipped:
        table.add_row("skipped (no value)", str(skipped))
    if local_rejected:
        table.add_row("rejected before sending", str(local_rejected))
    table.add_row("rejected by the gateway", str(totals.gateway_rejected))
    table.add_row("already published (duplicates)", str(totals.gateway_duplicates))
    table.add_row("accepted", str(totals.accepted))
    table.add_row("processed by the worker", str(totals.processed))
    table.add_row("  counted (new or corrections)", str(totals.counted))
    table.add_row("  already counted (duplicates)", str(totals.worker.get("duplicate", 0)))
    if totals.worker.get("ignored"):
        table.add_row("  kept, not folded in (daily means)", str(totals.worker["ignored"]))
    for outcome in REFUSALS:
        if totals.worker.get(outcome):
            table.add_row(f"  refused: {outcome}", str(totals.worker[outcome]))
    table.add_row("not processed yet", str(totals.pending))
    rate = totals.processed / elapsed_s if elapsed_s > 0 else 0.0
    table.add_row("end to end", f"{elapsed_s:.1f} s, {rate:,.0f} readings/s")
    return table


def report(
    console: Console,
    title: str,
    totals: Totals,
    elapsed_s: float,
    sent: int,
    local_rejected: int = 0,
    skipped: int = 0,
) -> int:
    """Print the outcome and its reasons; return the exit code."""
    console.print(outcome_table(title, totals, elapsed_s, sent, local_rejected, skipped))
    for reason in totals.reasons[:10]:
        console.print(f"  refused: {reason}", markup=False, highlight=False)
    if totals.pending:
        console.print(
            f"{totals.pending} reading(s) were accepted but not processed in time: is the worker running "
            "(`citywatch stack status`)? Their fate shows later at GET /v1/receipts/<receipt>",
            highlight=False,
        )
    if local_rejected or totals.gateway_rejected or totals.refused:
        return EXIT_REJECTED
    return EXIT_PENDING if totals.pending else EXIT_OK
