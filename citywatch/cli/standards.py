"""Standards tools: `citywatch aqi` and `citywatch water-class` (filled in by the Standards core work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the standards commands to the top-level app."""
