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


@indicators_app.command("tail")
def tail_command(
    indicator: Annotated[
        str | None, typer.Option(help="Only indicator ids starting with this, e.g. air.pm25 or water.class")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Only this site (or district) id")] = None,
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = True,
    max_records: Annotated[int | None, typer.Option("--max", help="Stop after this many records")] = None,
    idle_s: Annotated[float | None, typer.Option(help="Stop after this many seconds without a record")] = None,
) -> None:
    """Print the indicators topic as JSON lines (schema: docs/indicators.md)."""
    import orjson

    from citywatch.schemas.indicator import record_dicts_in
    from citywatch.settings import CommonSettings
    from citywatch.topics import Topics
    from tools.cli.processes import print_topic

    settings = CommonSettings()

    def shown(value: bytes) -> list[bytes]:
        """The message's records (an update carries many) that the filters keep, one JSON line each."""
        return [
            orjson.dumps(record)
            for record in record_dicts_in(value)
            if (indicator is None or str(record.get("indicator", "")).startswith(indicator))
            and (site is None or record.get("site") == site)
        ]

    from services.kafka_client import client_kwargs

    print_topic(
        client_kwargs(settings),
        Topics(settings.topic_prefix).indicators,
        from_beginning,
        max_records,
        idle_s,
        lines=shown,
    )


def register(app: typer.Typer) -> None:
    """Add `citywatch indicators ...` to the top-level app (the lead adds `indicators.register(app)`)."""
    app.add_typer(indicators_app, name="indicators")
