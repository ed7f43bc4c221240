"""Feed simulation and replay: `citywatch simulate` and (later) `citywatch replay`."""

from __future__ import annotations

import logging

import typer

from citywatch.logs import configure_logging
from citywatch.settings import SimulatorSettings


def simulate(
    seed: int = typer.Option(1, help="Same seed, same readings"),
    days_back: float = typer.Option(3.0, help="Start the simulated clock this many days ago"),
    speed: float = typer.Option(720.0, help="Simulated seconds per real second until the clock reaches now"),
    hours: int | None = typer.Option(None, help="Stop after this many simulated hours (default: run forever)"),
) -> None:
    """Post simulated feed readings to the ingest gateway (a scripted PM2.5 episode included)."""
    from services.simulator.run import run

    settings = SimulatorSettings()
    configure_logging(settings.log_level, "simulator")
    done = run(settings, seed=seed, days_back=days_back, speed=speed, hours=hours)
    logging.getLogger("citywatch.simulator").info("simulated %d hours", done)


def register(app: typer.Typer) -> None:
    """Add the simulation commands to the top-level app."""
    app.command()(simulate)
