"""Feed simulation and replay: `citywatch simulate` and `citywatch replay`."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

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
) -> None:
    """Replay recorded readings through the ingest gateway, with a progress bar and a summary.

    Exits 1 when any record was rejected (each is on the dead-letter topic with its reason).
    """
    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from citywatch.registry import load_registry
    from citywatch.schemas.feeds import SITE_FIELDS
    from services.simulator.replay import ReplayInputError, load
    from services.simulator.replay import replay as run_replay
    from services.simulator.run import Poster, load_keys

    err = Console(stderr=True)
    pace = parse_speed(speed)
    if averaging_period not in ("1h", "24h"):
        raise typer.BadParameter("expected 1h or 24h", param_hint="--averaging-period")
    settings = SimulatorSettings()
    try:
        loaded = load(file, feed, site, settings.zone, averaging_period)
    except ReplayInputError as exc:
        err.print(f"[red]error[/]: {exc}")
        raise typer.Exit(2) from None

    keys: dict[str, str] = {}
    if key is None:
        try:
            keys = load_keys(settings.simulator_keys_file)
        except (OSError, ValueError) as exc:
            err.print(f"[red]error[/]: no --key and the keys file is unusable: {exc}")
            raise typer.Exit(2) from None
    registry = load_registry(settings.registry_file)
    site_field = SITE_FIELDS[feed]

    def key_of(record: dict[str, Any]) -> str | None:
        if key is not None:
            return key
        site_id = record.get(site_field)
        if not isinstance(site_id, str) or not registry.has_site(site_id):
            return None
        return keys.get(registry.owner_of(site_id))

    with (
        httpx.Client(base_url=settings.ingest_url, timeout=60) as client,
        Progress(
            TextColumn(f"replaying {file.name} ({feed})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
        ) as progress,
    ):
        task = progress.add_task("replay", total=len(loaded.rows))
        summary = run_replay(
            feed,
            loaded.rows,
            Poster(client),
            key_of,
            settings.zone,
            speed=pace,
            batch_size=batch_size,
            advance=lambda n: progress.advance(task, n),
        )
    summary.skipped = loaded.skipped

    table = Table(title=f"replay of {file.name}", show_header=False)
    table.add_row("accepted", str(summary.accepted))
    table.add_row("duplicates", str(summary.duplicates))
    table.add_row("rejected", str(summary.rejected))
    table.add_row("skipped (no value)", str(summary.skipped))
    table.add_row("requests", str(summary.batches))
    out = Console()
    out.print(table)
    for reason in summary.reasons:
        out.print(f"  rejected: {reason}")
    if summary.rejected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the simulation commands to the top-level app."""
    app.command()(simulate)
    app.command()(replay)
