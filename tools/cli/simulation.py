"""Feed simulation and replay: `citywatch simulate` and `citywatch replay`."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from citywatch.logs import configure_logging
from citywatch.settings import SimulatorSettings


def parse_speed(text: str) -> float | None:
    """`max` (as fast as the gateway accepts: None) or a positive number of simulated seconds per second."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a positive number or 'max', got {text!r}", param_hint="--speed") from None
    if speed <= 0:
        raise typer.BadParameter(f"must be positive, got {text}", param_hint="--speed")
    return speed


def _parse_start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--start") from None
    if start.tzinfo is None:
        raise typer.BadParameter("give a UTC offset, e.g. 2025-06-02T00:00+08:00", param_hint="--start")
    return start


def simulate(
    seed: int = typer.Option(1, help="Same seed (and start), same readings"),
    days_back: float = typer.Option(3.0, help="Start the simulated clock this many days ago"),
    speed: str = typer.Option(
        "720", help="Simulated seconds per real second until the clock reaches now, or 'max'; then real time"
    ),
    hours: int | None = typer.Option(None, help="Stop after this many simulated hours (default: run forever)"),
    start: str | None = typer.Option(None, help="Start at this instant (ISO 8601 with offset) instead of --days-back"),
    incidents: bool = typer.Option(True, "--incidents/--no-incidents", help="Play the scripted incidents"),
) -> None:
    """Post simulated readings of every registry site and feed to the ingest gateway, scripted incidents included
    (a PM2.5 episode, a degraded water section, a silent station, a plant over capacity, a malformed batch, a
    correction)."""
    from services.simulator.run import run

    pace = parse_speed(speed)
    begin = _parse_start(start)
    settings = SimulatorSettings()
    configure_logging(settings.log_level, "simulator")
    done = run(settings, seed=seed, days_back=days_back, speed=pace, hours=hours, start=begin, incidents=incidents)
    logging.getLogger("citywatch.simulator").info("simulated %d hours", done)


def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV (air) or JSON lines")],
    feed: str = typer.Option("air", help="Feed of the records: air, water, bus, mode_share, waste"),
    site: str | None = typer.Option(None, help="Site id (required for a CSV without a station column)"),
    speed: str = typer.Option("max", help="'max' (as fast as the gateway accepts) or N: event-time gaps / N"),
    key: str | None = typer.Option(
        None, help="API key to use (default: the site's department's key from the keys file)"
    ),
    batch_size: int = typer.Option(500, min=1, max=1000, help="Records per request"),
    averaging_period: str = typer.Option("1h", help="CSV values are hourly values (1h) or daily means (24h)"),
    time_convention: str = typer.Option(
        "hour-ending",
        help="Which instant of its hour (or day) a timestamp names: hour-ending (Chinese practice: 09:00 is "
        "08:00–09:00) or hour-beginning (US EPA AirNow, most CSV exports: 09:00 is 09:00–10:00)",
    ),
    backfill: bool = typer.Option(
        False,
        "--backfill",
        help="Load history beside live data: processed in event time into the same indicators, never refused as "
        "late, past episodes recorded as historical incidents and never sent to on-call",
    ),
    receipt: str | None = typer.Option(None, help="Receipt to send under (default: a new one)"),
    wait: float = typer.Option(
        120.0, help="Stop waiting for the worker after this many seconds without progress (0: do not wait)"
    ),
) -> None:
    """Replay recorded readings through the ingest gateway, with progress of readings posted and processed, and a
    summary of what counted.

    Exit code 0: every reading counted (or was already counted); 1: some were refused (each is on the dead-letter
    topic and in /v1/rejections with its reason); 2: usage error; 4: some were not processed within --wait.
    """
    import uuid

    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from citywatch.feeds import SITE_FIELDS, backfill_feeds
    from citywatch.schemas.air import TIME_CONVENTIONS
    from citywatch.site_registry import load_registry
    from services.publish.follow import Follower, ReceiptUnreadable, Totals
    from services.simulator.replay import ReplayInputError, load
    from services.simulator.replay import replay as run_replay
    from services.simulator.run import Poster, load_keys
    from tools.cli.outcome import EXIT_USAGE, report

    err = Console(stderr=True)
    pace = parse_speed(speed)
    if averaging_period not in ("1h", "24h"):
        raise typer.BadParameter("expected 1h or 24h", param_hint="--averaging-period")
    if time_convention not in TIME_CONVENTIONS:
        raise typer.BadParameter(f"expected one of {', '.join(TIME_CONVENTIONS)}", param_hint="--time-convention")
    if backfill and feed not in backfill_feeds():
        raise typer.BadParameter(f"history backfill is available for: {', '.join(sorted(backfill_feeds()))}")
    settings = SimulatorSettings()
    try:
        loaded = load(file, feed, site, settings.zone, averaging_period, time_convention)
    except ReplayInputError as exc:
        err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(EXIT_USAGE) from None

    keys: dict[str, str] = {}
    if key is None:
        try:
            keys = load_keys(settings.simulator_keys_file)
        except (OSError, ValueError) as exc:
            err.print(f"[red]error[/]: no --key and the keys file is unusable: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
    registry = load_registry(settings.registry_file)
    site_field = SITE_FIELDS[feed]
    used: dict[str, str] = {}  # department (or "key") -> the key its records were sent with

    def key_of(record: dict[str, Any]) -> str | None:
        if key is not None:
            used["key"] = key
            return key
        site_id = record.get(site_field)
        if not isinstance(site_id, str) or not registry.has_site(site_id):
            return None
        department = registry.owner_of(site_id)
        found = keys.get(department)
        if found is not None:
            used[department] = found
        return found

    name = receipt or f"replay-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    with (
        httpx.Client(base_url=settings.ingest_url, timeout=60) as client,
        Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as progress,
    ):
        posting = progress.add_task("posted", total=len(loaded.rows))
        processing = progress.add_task("processed", total=len(loaded.rows))
        follower = Follower(client, used, name)
        polled = [0.0]

        def show(totals: Totals) -> None:
            progress.update(processing, completed=totals.processed, total=max(totals.accepted, totals.processed))

        def advance(n: int) -> None:
            progress.advance(posting, n)
            if time.monotonic() - polled[0] > 1.0 and used:
                polled[0] = time.monotonic()
                with contextlib.suppress(ReceiptUnreadable):  # said at the end
                    show(follower.totals())

        summary = run_replay(
            feed,
            loaded.rows,
            Poster(client),
            key_of,
            settings.zone,
            speed=pace,
            batch_size=batch_size,
            advance=advance,
            receipt=name,
            history=backfill,
        )
        totals = Totals()
        if used and wait > 0:
            try:
                totals = follower.wait(summary.accepted, wait, show)
            except ReceiptUnreadable as exc:
                err.print(f"[yellow]warning[/]: {exc}")
        totals.accepted = max(totals.accepted, summary.accepted)
        totals.gateway_duplicates = max(totals.gateway_duplicates, summary.duplicates)
        totals.gateway_rejected = max(totals.gateway_rejected, summary.rejected - summary.unsent)
        totals.reasons = summary.reasons + totals.reasons
    elapsed = time.monotonic() - started
    out = Console()
    title = f"{'backfill' if backfill else 'replay'} of {file.name} (receipt {name})"
    raise typer.Exit(report(out, title, totals, elapsed, len(loaded.rows), summary.unsent, loaded.skipped))


def register(app: typer.Typer) -> None:
    """Add the simulation commands to the top-level app."""
    app.command()(simulate)
    app.command()(replay)
