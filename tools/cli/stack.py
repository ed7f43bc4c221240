"""Local stack commands: `citywatch stack install|up|down|status`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from tools.devstack.config import PROFILES, StackConfig
from tools.devstack.install import InstallError, install_all
from tools.devstack.servers import ServerStartError
from tools.devstack.stack import Stack

console = Console(stderr=True, width=200, soft_wrap=True)
stack_app = typer.Typer(help="Run Kafka, Redis, Prometheus and Alertmanager locally, without Docker.")

ProfileOption = typer.Option("local", "--profile", help="local (make up) or test (the test suite's own ports)")


def _config(profile: str) -> StackConfig:
    try:
        return PROFILES[profile]
    except KeyError:
        raise typer.BadParameter(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}") from None


@stack_app.command()
def install() -> None:
    """Install missing Debian packages and fetch the Kafka jars (idempotent)."""
    try:
        install_all(say=lambda msg: console.print(f"[cyan]install[/]: {msg}"))
    except InstallError as exc:
        console.print(f"[red]install failed[/]: {exc}")
        raise typer.Exit(1) from exc
    console.print("[green]install: everything the stack needs is present[/]")


@stack_app.command()
def up(
    profile: str = ProfileOption,
    services: bool = typer.Option(False, "--services", help="also start the citywatch processes and simulator"),
) -> None:
    """Start the servers (and with --services the citywatch processes), waiting until each is healthy."""
    from tools.devstack.services import print_where_to_look, start_services

    config = _config(profile)
    stack = Stack(config)
    try:
        stack.up(say=console.print)
        if services:
            start_services(config, say=console.print)
    except ServerStartError as exc:
        console.print(f"[red]error[/]: {exc}")
        raise typer.Exit(1) from exc
    if services:
        print_where_to_look(config)


@stack_app.command()
def down(profile: str = ProfileOption) -> None:
    """Stop the citywatch processes and the servers (state stays in the run directory)."""
    from tools.devstack.services import stop_services

    config = _config(profile)
    stop_services(config, say=console.print)
    Stack(config).down(say=console.print)


@stack_app.command()
def status(profile: str = ProfileOption) -> None:
    """Show each server's and process's state."""
    from tools.devstack.services import services_status

    config = _config(profile)
    table = Table("component", "state", title=f"citywatch stack ({config.name}, {config.run_dir})")
    for name, state in {**Stack(config).status(), **services_status(config)}.items():
        table.add_row(name, state)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `citywatch stack ...` to the top-level app."""
    app.add_typer(stack_app, name="stack")
