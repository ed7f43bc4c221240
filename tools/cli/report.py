"""`citywatch report`: the plan evaluation report of a period, from the indicators topic."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tools.cli.extras import require_extra

# Client libraries that log every connection and every font subset at INFO: the report's console shows its
# progress bar and its result, and only their warnings.
QUIET_LOGGERS = ("kafka", "aiokafka", "weasyprint", "fontTools", "matplotlib", "PIL")


def quiet_clients() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def report(
    start: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First local day of the period")],
    end: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day of the period")],
    out: Annotated[Path, typer.Option(help="Directory to write index.html, report.pdf and the PNG plots into")],
    alerts_topic: Annotated[
        str | None,
        typer.Option(help="Alerts topic whose transitions to list, e.g. citywatch.alerts (without it: not included)"),
    ] = None,
    indicators_topic: Annotated[
        str | None, typer.Option(help="Indicators topic [default: <CITYWATCH_TOPIC_PREFIX>.indicators]")
    ] = None,
) -> None:
    """Write the plan evaluation report (HTML, PDF and PNG plots, Chinese and English) for the local days
    --from … --to."""
    require_extra("report", "report")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from citywatch.logs import configure_logging
    from citywatch.settings import CommonSettings
    from citywatch.site_registry import load_registry
    from citywatch.topics import Topics
    from tools.report.figures import Period, compute
    from tools.report.kafka_source import read_alerts, read_indicators
    from tools.report.render import MissingCJKFontError, cjk_font, render, render_steps

    settings = CommonSettings()
    configure_logging(settings.log_level, "report")
    quiet_clients()
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
    registry = load_registry(Path(settings.registry_file))
    names = {site.id: site.name_zh for site in registry.all_sites()}
    as_of = dt.datetime.now(settings.zone)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:

        def reading(name: str) -> Callable[[int, int], None]:
            task = bar.add_task(f"reading {name}", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return update

        from services.kafka_client import client_kwargs

        records = read_indicators(client_kwargs(settings), topic, period, progress=reading(topic))
        alerts = (
            read_alerts(client_kwargs(settings), alerts_topic, progress=reading(alerts_topic)) if alerts_topic else None
        )
        data = compute(records, period, alerts, settings.zone, names, as_of)
        rendering = bar.add_task("rendering", total=render_steps(data))
        written = render(data, out, progress=lambda _: bar.advance(rendering))
    typer.echo(f"read {len(records):,} indicator records of {topic} for {period.start} → {period.end}")
    if alerts_topic is None:
        typer.echo("alerts: not included (no --alerts-topic)")
    typer.echo(f"HTML: {written.html}")
    typer.echo(f"PDF:  {written.pdf}")


def register(app: typer.Typer) -> None:
    """Add `citywatch report` to the top-level app."""
    app.command()(report)
