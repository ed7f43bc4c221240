"""`citywatch report`: the plan evaluation report of a period, from the indicators topic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer


def report(
    start: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First local day of the period")],
    end: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day of the period")],
    out: Annotated[Path, typer.Option(help="Directory to write index.html and the PNG plots into")],
    alerts_topic: Annotated[
        str | None, typer.Option(help="Alerts topic whose transitions to list, e.g. citywatch.alerts")
    ] = None,
    indicators_topic: Annotated[
        str | None, typer.Option(help="Indicators topic [default: <CITYWATCH_TOPIC_PREFIX>.indicators]")
    ] = None,
) -> None:
    """Write the plan evaluation report (HTML + PNG, Chinese and English) for the local days --from … --to."""
    from citywatch.logs import configure_logging
    from citywatch.registry import load_registry
    from citywatch.report.figures import Period, compute
    from citywatch.report.kafka_source import read_alerts, read_indicators
    from citywatch.report.render import MissingCJKFontError, cjk_font, render
    from citywatch.settings import CommonSettings
    from citywatch.topics import Topics

    settings = CommonSettings()
    configure_logging(settings.log_level, "report")
    try:
        period = Period(start.date(), end.date())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--to") from None
    try:
        cjk_font()  # before reading Kafka: fail at once when Chinese text cannot be drawn
    except MissingCJKFontError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    topic = indicators_topic or Topics(settings.topic_prefix).indicators
    records = read_indicators(settings.kafka_bootstrap, topic, period)
    alerts = read_alerts(settings.kafka_bootstrap, alerts_topic) if alerts_topic else []
    registry = load_registry(Path(settings.registry_file))
    names = {site.id: site.name_zh for site in registry.all_sites()}
    index = render(compute(records, period, alerts, settings.zone, names), out)
    typer.echo(f"wrote {index} ({len(records)} indicator records of {topic} in the period)")


def register(app: typer.Typer) -> None:
    """Add `citywatch report` to the top-level app."""
    app.command()(report)
