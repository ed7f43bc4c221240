"""The `citywatch` console command: one entry point for every process and tool.

Each module here registers its own commands; this file only wires them together.
"""

from __future__ import annotations

import typer

from tools.cli import (
    bench,
    dashboards,
    deploy,
    indicators,
    kafka_access,
    keys,
    oncall,
    processes,
    publish,
    report,
    rules,
    simulation,
    stack,
    standards,
)

app = typer.Typer(
    name="citywatch",
    help="Monitor a city's plan indicators: run the processes, the local stack and the standards tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

kafka_access.register(app)
keys.register(app)
oncall.register(app)
bench.register(app)
dashboards.register(app)
deploy.register(app)
indicators.register(app)
processes.register(app)
publish.register(app)
report.register(app)
rules.register(app)
simulation.register(app)
stack.register(app)
standards.register(app)


def main() -> None:
    app()
