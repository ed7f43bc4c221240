"""Process commands: `citywatch ingest|worker|alerts|simulate` and `citywatch tail`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from citywatch.logs import configure_logging
from citywatch.settings import AlertSettings, CommonSettings, IngestSettings, WorkerSettings
from citywatch.topics import Topics

if TYPE_CHECKING:
    from services.kafka_client import Connection


def ingest() -> None:
    """Run the HTTP ingest gateway (FastAPI; API docs at /docs, metrics at /metrics)."""
    from services.http_server import serve
    from services.ingest.app import create_app

    settings = IngestSettings()
    configure_logging(settings.log_level, "ingest")
    serve(create_app(settings), settings.ingest_host, settings.ingest_port, settings.request_header_timeout_s)


def worker() -> None:
    """Run the faust stream worker (indicators and rule evaluation; metrics at :6066/metrics)."""
    from faust.worker import Worker

    from streams.app import create_app

    settings = WorkerSettings()
    configure_logging(settings.log_level, "worker")
    app = create_app(settings)
    Worker(app, loglevel=settings.log_level.lower(), redirect_stdouts=False).execute_from_commandline()


def alerts() -> None:
    """Run the alert service (lifecycle in Redis, transitions to the alerts topic and Alertmanager)."""
    import uvicorn

    from services.alerts.app import create_app

    settings = AlertSettings()
    configure_logging(settings.log_level, "alerts")
    uvicorn.run(
        create_app(settings), host=settings.alerts_host, port=settings.alerts_port, log_config=None, access_log=False
    )


def tail(
    topic: str = typer.Argument(
        ..., help="alerts, indicators, rule-evaluations, dead-letter or feed.<feed>.<department>"
    ),
    from_beginning: bool = typer.Option(True, help="Start at the oldest record"),
    max_records: int | None = typer.Option(None, "--max", help="Stop after this many records"),
    idle_s: float | None = typer.Option(None, help="Stop after this many seconds without a record"),
) -> None:
    """Print a citywatch topic as JSON lines."""
    settings = CommonSettings()
    topics = Topics(settings.topic_prefix)
    name = f"{topics.prefix}.{topic}"
    if name not in topics.all() and not topic.startswith("feed."):
        raise typer.BadParameter(f"unknown topic {topic!r}", param_hint="TOPIC")
    from services.kafka_client import client_kwargs

    print_topic(client_kwargs(settings), name, from_beginning, max_records, idle_s)


def print_topic(
    client: Connection,
    name: str,
    from_beginning: bool,
    max_records: int | None,
    idle_s: float | None,
    lines: Callable[[bytes], list[bytes]] = lambda value: [value],
) -> None:
    """Write a topic's records (JSON text) to stdout, one per line: what `lines` makes of each message (the
    message itself by default; the indicators topic's updates carry many records, some filtered out)."""
    from kafka import KafkaConsumer

    from services.kafka_client import connection_kwargs

    consumer = KafkaConsumer(
        name,
        **connection_kwargs(client),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(idle_s * 1000) if idle_s else float("inf"),
    )
    count = 0
    try:
        for message in consumer:
            for line in lines(message.value):
                sys.stdout.write(line.decode() + "\n")
                count += 1
                if max_records is not None and count >= max_records:
                    return
            sys.stdout.flush()
    finally:
        sys.stdout.flush()
        consumer.close()


topics_app = typer.Typer(help="Kafka topics.")


@topics_app.command("ensure")
def topics_ensure(
    partitions: int | None = typer.Option(None, help="Partitions of each new topic [default: the worker's setting]"),
    profile: str = typer.Option("local", help="Stack profile whose run directory keeps department passwords"),
) -> None:
    """Create every citywatch topic that does not exist yet, with its retention, and the departments' Kafka
    users and ACLs from the site registry (each may write only its own feed topics)."""
    from pathlib import Path

    from citywatch.site_registry import load_registry
    from services.kafka_client import client_kwargs
    from services.topic_admin import ensure_topics

    settings = CommonSettings()
    registry = load_registry(Path(settings.registry_file))
    from services.kafka_security import department_credentials, ensure_department_access
    from tools.devstack.config import PROFILES

    topics = Topics(settings.topic_prefix)
    departments = registry.feeds_by_department()
    worker = WorkerSettings()
    app_id = worker.worker_app_id
    partitions = partitions or worker.topic_partitions
    client = client_kwargs(settings)
    replication = settings.kafka_replication_factor
    created = ensure_topics(client, topics, partitions, departments, app_id, replication)
    typer.echo(f"created {len(created)} topics: {', '.join(created) or '(all existed)'}")
    credentials = department_credentials(PROFILES[profile].run_dir, departments)
    security = {name: value for name, value in client.items() if name != "bootstrap_servers"}
    ensure_department_access(
        settings.kafka_bootstrap,
        topics,
        departments,
        credentials,
        partitions=partitions,
        replication=replication,
        admin_kwargs=security,
    )
    for department, feeds in sorted(departments.items()):
        typer.echo(f"{department} may write: {', '.join(topics.feed(f, department) for f in sorted(feeds))}")


def register(app: typer.Typer) -> None:
    """Add the long-running process commands to the top-level app."""
    app.command()(ingest)
    app.command()(worker)
    app.command()(alerts)
    app.command()(tail)
    app.add_typer(topics_app, name="topics")
