"""Local stack commands: `citywatch stack up|down|status`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the stack commands to the top-level app."""
