"""Departments' direct Kafka access on the local stack: `citywatch kafka-access grant|revoke|credentials`.

Users and ACLs are made by services.kafka_security through the admin bootstrap (CITYWATCH_KAFKA_BOOTSTRAP); the
passwords of the local stack live in `.run/<profile>/kafka-credentials.json` (0600). See docs/kafka-security.md.
"""

from __future__ import annotations

import json
from typing import NoReturn

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from citywatch.settings import CommonSettings, env_name
from citywatch.topics import Topics
from tools.devstack.config import PROFILES, StackConfig

console = Console(stderr=True)
access_app = typer.Typer(help="Departments' own Kafka producers: SCRAM users and ACLs on their feed topics.")

ProfileOption = typer.Option("local", "--profile", help="Stack profile whose run directory keeps the passwords")
FeedOption = typer.Option(..., "--feed", help="Feed the department may publish (repeat for several)")


def _config(profile: str) -> StackConfig:
    try:
        return PROFILES[profile]
    except KeyError:
        raise typer.BadParameter(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}") from None


def stack_unreachable(what: str, variable: str, exc: Exception) -> NoReturn:
    """Exit 1 on a server of the stack that did not answer: say `what` happened, and to start the stack or point
    the environment variable (`env_name(setting)`) elsewhere."""
    console.print(f"[red]error[/]: {what}; start the stack (`make up`) or set {variable}")
    raise typer.Exit(1) from exc


def _broker_error(settings: CommonSettings, exc: KafkaError) -> NoReturn:
    stack_unreachable(
        f"Kafka at {settings.kafka_bootstrap} refused or did not answer ({exc!r})", env_name("kafka_bootstrap"), exc
    )


@access_app.command()
def grant(
    department: str = typer.Option(..., help="Department id from the site registry"),
    feed: list[str] = FeedOption,
    partitions: int = typer.Option(4, help="Partitions of a feed topic that does not exist yet"),
    profile: str = ProfileOption,
) -> None:
    """Let a department write its own topic of each feed (adds to its grants; creates its user and topics)."""
    from services.kafka_security import department_credentials, ensure_department_access

    config = _config(profile)
    settings = CommonSettings()
    topics = Topics(settings.topic_prefix)
    try:
        credentials = department_credentials(config.run_dir, [department])
        ensure_department_access(
            settings.kafka_bootstrap,
            topics,
            {department: feed},
            credentials,
            partitions=partitions,
            prune=False,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except KafkaError as exc:
        _broker_error(settings, exc)
    for name in sorted(set(feed)):
        typer.echo(f"{department} may write {topics.feed(name, department)}")
    console.print(f"its producer settings: `citywatch kafka-access credentials --department {department}`")


@access_app.command()
def revoke(department: str = typer.Option(..., help="Department whose user and ACLs to remove")) -> None:
    """Remove a department's SCRAM user and its ACLs on the feed topics (its password file entry stays)."""
    from services.kafka_security import revoke_department

    settings = CommonSettings()
    try:
        revoke_department(settings.kafka_bootstrap, Topics(settings.topic_prefix), department)
    except KafkaError as exc:
        _broker_error(settings, exc)
    typer.echo(f"revoked {department}'s Kafka access")


@access_app.command()
def credentials(
    department: str | None = typer.Option(None, help="Print this department's producer settings as JSON"),
    profile: str = ProfileOption,
) -> None:
    """List the departments with a local password, or print one department's producer settings (with its password)."""
    from services.kafka_grants import scram_user
    from services.kafka_security import department_client_kwargs, department_credentials

    config = _config(profile)
    stored = department_credentials(config.run_dir)
    if department is None:
        table = Table("department", "SCRAM user", "bootstrap (DEPARTMENTS listener)")
        for name in sorted(stored):
            table.add_row(name, scram_user(name), config.departments_bootstrap)
        Console().print(table)
        return
    if department not in stored:
        console.print(f"[red]error[/]: no password for {department}; run `citywatch kafka-access grant` first")
        raise typer.Exit(1)
    settings = {
        "bootstrap_servers": config.departments_bootstrap,
        **department_client_kwargs(department, stored[department]),
    }
    typer.echo(json.dumps(settings, indent=2))


def register(app: typer.Typer) -> None:
    """Add `citywatch kafka-access ...` to the top-level app."""
    app.add_typer(access_app, name="kafka-access")
