"""`citywatch indicators list`: the indicator catalogue as a table or as JSON."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from citywatch.indicators.catalogue import CATALOGUE, Indicator

indicators_app = typer.Typer(help="The indicator catalogue (ids, units, metrics, standards and targets).")


def _relates(indicator: Indicator) -> str:
    parts = [p for p in (indicator.standard, indicator.target) if p]
    if indicator.limit is not None:
        parts.append(f"{indicator.limit[0]} {indicator.limit[1]}")
    return ", ".join(parts)


@indicators_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table")] = False,
    feed: Annotated[str | None, typer.Option(help="Only this feed: air, water, bus, mode_share, waste")] = None,
) -> None:
    """List every indicator the worker computes."""
    chosen = [CATALOGUE[k] for k in sorted(CATALOGUE) if feed is None or CATALOGUE[k].feed == feed]
    if as_json:
        typer.echo(json.dumps([i.to_json() for i in chosen], ensure_ascii=False, indent=2))
        return
    rows = [("id", "unit", "window", "stage", "metric", "standard / target")]
    rows += [(i.id, i.unit, i.window, i.stage, i.metric, _relates(i)) for i in chosen]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def register(app: typer.Typer) -> None:
    """Add `citywatch indicators ...` to the top-level app (the lead adds `indicators.register(app)`)."""
    app.add_typer(indicators_app, name="indicators")
