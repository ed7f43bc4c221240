"""Process commands: `citywatch ingest|worker|alerts|simulate`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the long-running process commands to the top-level app."""
