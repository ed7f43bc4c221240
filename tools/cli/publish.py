"""`citywatch publish FILE`: a department publishes a CSV or JSON-lines file of readings straight to Kafka.

Every record is validated locally first (the feed's schema and the site registry, as the gateway does); the valid
ones are produced with the department's SCRAM credentials to its own feed topic, and the broker decides whether the
department may write it (docs/kafka-security.md). Rejected records go to `FILE.rejected.jsonl` with their reasons.

Exit codes: 0 all accepted, 1 some rejected, 2 usage error (unknown feed, unreadable file, no password), 3 the broker
refused or did not answer (e.g. the department has no ACL on the topic).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citywatch.settings import env_name
from tools.cli.outcome import EXIT_BROKER, EXIT_OK, EXIT_REJECTED, EXIT_USAGE
from tools.devstack.config import LOCAL

if TYPE_CHECKING:
    from services.publish.follow import Totals

console = Console(stderr=True)


def _usage_error(message: str) -> NoReturn:
    console.print(f"[red]error[/]: {message}", markup=True, highlight=False)
    raise typer.Exit(EXIT_USAGE)


def _password(department: str, password_env: str | None, credentials_file: Path | None) -> str:
    """The department's Kafka password: from an environment variable, or a JSON file of department -> password."""
    if password_env is not None:
        if credentials_file is not None:
            _usage_error("give either --password-env or --credentials-file, not both")
        value = os.environ.get(password_env)
        if not value:
            _usage_error(f"environment variable {password_env} is not set (it should hold {department}'s password)")
        return value
    from services.kafka_security import CREDENTIALS_FILE

    path = credentials_file or LOCAL.run_dir / CREDENTIALS_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _usage_error(
            f"no credentials file {path}; on the local stack run `citywatch kafka-access grant --department "
            f"{department} --feed …`, or pass --password-env VAR"
        )
    except (OSError, ValueError) as exc:
        _usage_error(f"cannot read the credentials file {path}: {exc}")
    if not isinstance(stored, dict) or not isinstance(stored.get(department), str):
        _usage_error(
            f"{path} has no password for {department!r}; run `citywatch kafka-access grant --department {department} "
            "--feed …` first"
        )
    return str(stored[department])


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def publish(
    file: Annotated[Path, typer.Argument(help="CSV (header row = field names) or JSON lines (one object a line)")],
    feed: Annotated[str, typer.Option("--feed", help="Feed of the records: air, water, bus, mode_share or waste")],
    department: Annotated[str, typer.Option("--department", help="Publishing department (registry id)")],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the extension: .csv, .jsonl/.ndjson/.json)"),
    ] = None,
    bootstrap: Annotated[
        str, typer.Option("--bootstrap", help="Kafka's DEPARTMENTS (SASL/SCRAM) listener, HOST:PORT")
    ] = LOCAL.departments_bootstrap,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Environment variable holding the department's Kafka password")
    ] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials-file",
            help="JSON file of department -> password (default: the local stack's .run/local/kafka-credentials.json)",
        ),
    ] = None,
    user_prefix: Annotated[str, typer.Option("--user-prefix", help="Prefix of the SCRAM user name (tests)")] = "",
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", help="The cluster's CA certificate (PEM): connect with TLS, SASL_SSL"),
    ] = None,
    registry_file: Annotated[
        Path | None, typer.Option("--registry", help="Site registry YAML (default: CITYWATCH_REGISTRY_FILE)")
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the broker before giving up")
    ] = 15.0,
    time_convention: Annotated[
        str,
        typer.Option(
            "--time-convention",
            help="Which instant of its period an air record's observed_at names: hour-ending (Chinese practice) or "
            "hour-beginning (US EPA AirNow, most CSV exports)",
        ),
    ] = "hour-ending",
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill", help="The file is history: processed beside live data, never refused as late, never paging"
        ),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            help="Wait for the worker's verdict on every record (asks the gateway with the department's API key)",
        ),
    ] = True,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=env_name("api_key"),
            help="The department's API key, to follow the records (default: the local stack's keys file)",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Stop following after this many seconds without progress")
    ] = 120.0,
) -> None:
    """Validate a file of readings locally, publish the valid ones to the department's Kafka topic, keep the rest,
    then follow them through the worker.

    Topic: `<CITYWATCH_TOPIC_PREFIX>.feed.<feed>.<department>`. Rejected records (with field and reason) are written
    to FILE.rejected.jsonl; the worker's refusals are listed at the end (and in /v1/rejections). Exit code 0: all
    counted; 1: some rejected or refused; 2: usage error; 3: the broker refused; 4: not all processed within --wait.
    """
    import time
    import uuid

    from citywatch.feeds import backfill_feeds
    from citywatch.schemas.air import TIME_CONVENTIONS
    from citywatch.schemas.receipt import HISTORY_LANE, LANE_HEADER, RECEIPT_HEADER
    from citywatch.settings import CommonSettings
    from citywatch.site_registry import RegistryError, load_registry
    from citywatch.topics import Topics
    from services.publish import records as rec
    from services.publish.follow import Totals
    from services.publish.producer import BrokerRefused, Target
    from services.publish.producer import publish as produce
    from tools.cli.outcome import report

    settings = CommonSettings()
    try:
        rec.check_feed(feed)
        if time_convention not in TIME_CONVENTIONS:
            raise rec.InputError(f"--time-convention must be one of {', '.join(TIME_CONVENTIONS)}")
        if time_convention != "hour-ending" and feed != "air":
            raise rec.InputError(f"--time-convention applies to air readings; {feed} records state their own times")
        if backfill and feed not in backfill_feeds():
            raise rec.InputError(f"history backfill is available for: {', '.join(sorted(backfill_feeds()))}")
        fmt = rec.file_format(file, file_format)
        registry_path = registry_file or Path(settings.registry_file)
        try:
            registry = load_registry(registry_path)
        except (OSError, RegistryError) as exc:
            raise rec.InputError(f"cannot load the site registry {registry_path}: {exc}") from None
        rec.check_department(registry, department, feed)
        text = rec.read_text(file)
        rows = rec.read_rows(text, fmt, feed)
    except rec.InputError as exc:
        _usage_error(str(exc))
    password = _password(department, password_env, credentials_file)
    key = _api_key(department, api_key) if follow else None
    topic = Topics(settings.topic_prefix).feed(feed, department)
    receipt = f"publish-{uuid.uuid4().hex[:12]}"
    headers = [(RECEIPT_HEADER, receipt.encode())]
    if backfill:
        headers.append((LANE_HEADER, HISTORY_LANE.encode()))

    refused: BrokerRefused | None = None
    acknowledged = 0
    started = time.monotonic()
    bounds = settings.clock_bounds()
    with _progress() as progress:
        checking = progress.add_task("validating", total=len(rows))
        result = rec.Validation()
        for row in rows:
            outcome = rec.validate_row(row, feed, department, registry, bounds, None, time_convention)
            if isinstance(outcome, rec.Rejection):
                result.rejected.append(outcome)
            else:
                result.accepted.append((row.line, outcome))
            progress.advance(checking)
        sending = progress.add_task("publishing", total=len(result.accepted))
        ca = None if ca_file is None else str(ca_file)
        target = Target(bootstrap, department, password, topic, feed, user_prefix, timeout_s, ca)
        try:
            acknowledged = produce(
                target, result.records, on_ack=lambda n: progress.advance(sending, n), headers=headers
            )
        except BrokerRefused as exc:
            refused = exc
            acknowledged = exc.acknowledged
        totals = Totals(accepted=acknowledged)
        if key is not None and acknowledged and refused is None:
            processing = progress.add_task("processed", total=acknowledged)
            totals = _follow(
                key, receipt, acknowledged, wait, lambda t: progress.update(processing, completed=t.processed)
            )

    rejected_file = rec.write_rejections(file, result.rejected)
    typer.echo(f"accepted: {acknowledged}" + (f" (published to {topic}, receipt {receipt})" if acknowledged else ""))
    typer.echo(f"rejected: {len(result.rejected)}")
    if rejected_file is not None:
        typer.echo(f"rejections: {rejected_file}")
        for rejection in result.rejected[:5]:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in rejection.errors)
            console.print(f"  line {rejection.line}: {reasons}", markup=False, highlight=False)
        if len(result.rejected) > 5:
            console.print(f"  … and {len(result.rejected) - 5} more in {rejected_file.name}", highlight=False)
    if refused is not None:
        unsent = len(result.accepted) - acknowledged
        console.print(f"[red]error[/]: {refused}", highlight=False)
        console.print(f"{unsent} valid record(s) were not published", highlight=False)
        raise typer.Exit(EXIT_BROKER)
    if key is None:
        if follow:
            console.print(
                f"not followed through the worker: no API key of the department (--api-key or {env_name('api_key')})",
                highlight=False,
            )
        raise typer.Exit(EXIT_REJECTED if result.rejected else EXIT_OK)
    code = report(
        Console(),
        f"publish of {file.name} (receipt {receipt})",
        totals,
        time.monotonic() - started,
        len(rows),
        len(result.rejected),
    )
    raise typer.Exit(code)


def _api_key(department: str, given: str | None) -> str | None:
    """The department's API key: given, or the local stack's keys file (as `citywatch replay` uses)."""
    if given:
        return given
    from citywatch.settings import SimulatorSettings
    from services.simulator.run import load_keys

    try:
        return load_keys(SimulatorSettings().simulator_keys_file).get(department)
    except (OSError, ValueError):
        return None


def _follow(key: str, receipt: str, expected: int, wait: float, show: Callable[[Totals], None]) -> Totals:
    """The worker's verdicts on the published records, asked of the gateway (CITYWATCH_INGEST_URL)."""
    import httpx

    from citywatch.settings import SimulatorSettings
    from services.publish.follow import Follower, ReceiptUnreadable, Totals

    with httpx.Client(base_url=SimulatorSettings().ingest_url, timeout=30) as client:
        try:
            return Follower(client, {"key": key}, receipt).wait(expected, wait, show)
        except ReceiptUnreadable as exc:
            console.print(f"[yellow]warning[/]: {exc}", highlight=False)
            return Totals(accepted=expected)


def register(app: typer.Typer) -> None:
    """Add `citywatch publish FILE` to the top-level app."""
    app.command()(publish)
