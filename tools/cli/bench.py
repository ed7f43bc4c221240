"""`citywatch bench ...`: benchmarks against the real local stack (progress, a table, JSON in bench-results/)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

bench_app = typer.Typer(help="Benchmarks on the real broker: each figure beside its baseline from the same run.")


@bench_app.command("worker")
def worker(
    readings: int = typer.Option(200_000, min=1, help="Air readings pre-loaded and consumed by each consumer"),
    stations: int | None = typer.Option(
        None,
        min=1,
        help="Stations the readings are spread over [default: the registry's air stations]; more than the "
        "registry lists are added to a temporary copy of it, which the worker reads",
    ),
    partitions: int = typer.Option(4, min=1, help="Partitions of the run's topics"),
    profile: str = typer.Option("test", help="Stack profile whose Kafka to use (started if down, stopped after)"),
    bootstrap: str | None = typer.Option(None, help="Another Kafka to use instead (not started or stopped)"),
    consumers: str = typer.Option("bare,empty_agent,worker", help="Which consumers to measure, comma-separated"),
    out: Annotated[Path, typer.Option(help="JSON results file (directory created)")] = Path(
        "bench-results/worker.json"
    ),
    timeout_s: float = typer.Option(1800.0, help="Longest wait for one consumer to read every reading"),
    poll_s: float = typer.Option(0.5, help="How often the worker's /metrics is read"),
    worker_store: str | None = typer.Option(None, help="CITYWATCH_WORKER_STORE for the worker, e.g. rocksdb://"),
    cprofile: Annotated[
        Path | None, typer.Option(help="Run the worker under cProfile and write its stats here")
    ] = None,
    keep: bool = typer.Option(False, help="Keep the run's topics, logs and data directories"),
    shape: Annotated[
        str,
        typer.Option(
            help="single: one reading per Kafka message (a direct publisher); batch: feed batches, one per site of "
            "each gateway request (citywatch/schemas/feed_batch.py)"
        ),
    ] = "single",
    per_request: int = typer.Option(500, min=1, help="With --shape batch: readings per simulated gateway request"),
) -> None:
    """Worker readings/s beside an empty faust agent and a bare aiokafka consume-and-decode loop (same topic)."""
    from tools.bench.worker import WorkerBenchOptions, run_worker_bench
    from tools.devstack.config import PROFILES

    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}", param_hint="--profile")
    chosen = tuple(c.strip() for c in consumers.split(",") if c.strip())
    if shape not in ("single", "batch"):
        raise typer.BadParameter(f"unknown shape {shape!r}; known: single, batch", param_hint="--shape")
    options = WorkerBenchOptions(
        readings=readings,
        stations=stations,
        partitions=partitions,
        profile=profile,
        bootstrap=bootstrap,
        out=out,
        consumers=chosen,
        timeout_s=timeout_s,
        poll_s=poll_s,
        worker_store=worker_store,
        cprofile=cprofile,
        keep=keep,
        shape=shape,
        per_request=per_request,
        command=shlex.join(["citywatch", *sys.argv[1:]]),
    )
    try:
        result = run_worker_bench(options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if any(not c.complete for c in result.consumers):
        raise typer.Exit(1)


@bench_app.command("scrape")
def scrape(
    sites: str = typer.Option("1000,10000", help="Site counts to measure, comma-separated"),
    feed: str = typer.Option("air", help="Whose site indicators each site has: air, water, bus, mode_share, waste"),
) -> None:
    """The worker's /metrics with many sites: citywatch's indicator exposition beside prometheus_client gauges."""
    from rich.console import Console
    from rich.table import Table

    from tools.bench.scrape import measure_client_gauges, measure_exposition, records_for

    console = Console()
    table = Table("sites", "series", "how", "observe µs/record", "scrape s", "body MB", "scrape vs baseline")
    for count in (int(s) for s in sites.split(",") if s.strip()):
        records = records_for(count, feed)
        with console.status(f"{count:,} sites: {len(records):,} series"):
            ours, baseline = measure_exposition(records), measure_client_gauges(records)
        for figures in (baseline, ours):
            ratio = baseline.scrape_s / figures.scrape_s if figures.scrape_s else float("inf")
            table.add_row(
                f"{count:,}",
                f"{figures.series:,}",
                figures.name,
                f"{figures.observe_us:.2f}",
                f"{figures.scrape_s:.3f}",
                f"{figures.body_bytes / 1e6:.1f}",
                f"{ratio:.1f}× faster" if figures is ours else "1.0×",
            )
    console.print(table)


def _console() -> Console:
    """Rich's console; when the output is not a terminal (make, tee, CI) wide enough for the results table."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _command() -> str:
    return shlex.join(["citywatch", *sys.argv[1:]])


def _check_profile(profile: str) -> None:
    from tools.devstack.config import PROFILES

    if profile not in PROFILES:
        raise typer.BadParameter(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}", param_hint="--profile")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s.replace("_", "")) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"expected comma-separated counts, got {text!r}") from exc
    if len(sizes) < 2 or min(sizes) < 1:
        raise typer.BadParameter("give at least two positive site counts (a line needs two points)")
    return sizes


PROFILE_OPTION = typer.Option("test", help="Stack profile to run on (servers that are down are started, then stopped)")
OUT_DIR_OPTION = typer.Option(Path("bench-results"), help="Directory of the JSON results (<part>.json)")
KEEP_OPTION = typer.Option(False, help="Keep the run's topics, logs and data directories")


@bench_app.command("ingest")
def ingest(
    readings: int = typer.Option(200_000, min=1, help="Readings posted (and produced by the baseline)"),
    batch: int = typer.Option(500, min=1, help="Readings per POST"),
    clients: int = typer.Option(8, min=1, help="Concurrent HTTP clients"),
    stations: int = typer.Option(1000, min=1, help="Air stations the readings are spread over"),
    partitions: int = typer.Option(4, min=1),
    timeout_s: float = typer.Option(900.0, help="Give up (cleanly, with what was reached) after this long"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """Gateway readings/s (batched POSTs, concurrent clients) beside a bare kafka-python producer; request latency."""
    from tools.bench.ingest import IngestOptions, run_ingest_bench
    from tools.bench.suite import run_part

    _check_profile(profile)
    options = IngestOptions(readings, batch, clients, stations, partitions, profile, timeout_s=timeout_s, keep=keep)
    options.command = _command()
    console = _console()
    result = run_part("ingest", lambda: run_ingest_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


@bench_app.command("latency")
def latency(
    rate: float = typer.Option(1000.0, min=1, help="Background readings/s asked of the gateway (open loop)"),
    duration_s: float = typer.Option(120.0, min=1, help="Seconds of load"),
    batch: int = typer.Option(100, min=1, help="Readings per background POST"),
    clients: int = typer.Option(4, min=1, help="Concurrent HTTP clients for the background load"),
    stations: int = typer.Option(1000, min=1, help="Background air stations"),
    probe_interval_s: float = typer.Option(1.0, min=0.05, help="Seconds between probe breaches (each a new station)"),
    drain_s: float = typer.Option(60.0, min=0, help="Longest wait after the load for the probes' alerts"),
    partitions: int = typer.Option(4, min=1),
    timeout_s: float = typer.Option(900.0, help="Give up (cleanly, with what was reached) after this long"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """Ingest→alert latency p50/p95/p99 at a steady rate, beside a Prometheus alerting rule on the same breach."""
    from tools.bench.latency import LatencyOptions, run_latency_bench
    from tools.bench.suite import run_part

    _check_profile(profile)
    options = LatencyOptions(
        rate,
        duration_s,
        batch,
        clients,
        stations,
        probe_interval_s,
        drain_s,
        partitions,
        profile,
        timeout_s=timeout_s,
        keep=keep,
        command=_command(),
    )
    console = _console()
    result = run_part("latency", lambda: run_latency_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


@bench_app.command("memory")
def memory(
    sites: str = typer.Option("1000,10000,100000", help="Site counts, comma-separated (at least two)"),
    partitions: int = typer.Option(4, min=1),
    worker_store: str | None = typer.Option(None, help="CITYWATCH_WORKER_STORE for the worker, e.g. memory://"),
    timeout_s: float = typer.Option(3600.0, help="Give up (cleanly, with what was reached) after this long"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """Worker resident memory after one reading per site at each site count; bytes per site (slope) and the fit."""
    from tools.bench.memory import MemoryOptions, run_memory_bench
    from tools.bench.suite import run_part

    _check_profile(profile)
    options = MemoryOptions(
        _sizes(sites), partitions, worker_store, profile=profile, timeout_s=timeout_s, keep=keep, command=_command()
    )
    console = _console()
    result = run_part("memory", lambda: run_memory_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


@bench_app.command("scaling")
def scaling(
    readings: int = typer.Option(100_000, min=1, help="Readings pre-loaded and read by each phase"),
    stations: int = typer.Option(1000, min=1),
    partitions: int = typer.Option(4, min=2, help="Partitions (two workers need at least two)"),
    worker_store: str | None = typer.Option(None, help="CITYWATCH_WORKER_STORE for the workers"),
    workers: str = typer.Option(
        "1,2", help="Worker counts, one phase each, comma-separated (the first is the baseline)"
    ),
    timeout_s: float = typer.Option(1800.0, help="Give up (cleanly, with what was reached) after this long"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """One worker against several workers of one group on the same pre-loaded input (throughput ratios)."""
    from tools.bench.scaling import ScalingOptions, run_scaling_bench
    from tools.bench.suite import run_part

    _check_profile(profile)
    options = ScalingOptions(
        readings,
        stations,
        partitions,
        worker_store,
        profile=profile,
        workers=_worker_counts(workers, partitions),
        timeout_s=timeout_s,
        keep=keep,
        command=_command(),
    )
    console = _console()
    result = run_part("scaling", lambda: run_scaling_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


@bench_app.command("recovery")
def recovery(
    readings: int = typer.Option(60_000, min=1, help="Readings pre-loaded for the workers"),
    stations: int = typer.Option(600, min=1),
    partitions: int = typer.Option(6, min=2),
    workers: int = typer.Option(3, min=1, help="Workers of one group"),
    down_s: float = typer.Option(30.0, help="How long the killed node stays down"),
    timeout_s: float = typer.Option(1800.0, help="Give up (cleanly, with what was reached) after this long"),
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """The cluster loses the node leading the most input partitions: election, first output, rates (cluster only)."""
    from tools.bench.recovery import RecoveryOptions, run_recovery_bench
    from tools.bench.suite import run_part

    options = RecoveryOptions(
        readings, stations, partitions, workers, down_s, timeout_s=timeout_s, keep=keep, command=_command()
    )
    console = _console()
    result = run_part("recovery", lambda: run_recovery_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


def _worker_counts(text: str, partitions: int) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: give counts like 1,2,3", param_hint="--workers") from None
    if not counts or min(counts) < 1 or max(counts) > partitions:
        raise typer.BadParameter(f"each count must be 1 to --partitions ({partitions})", param_hint="--workers")
    return counts


@bench_app.command("backfill")
def backfill(
    stations: int = typer.Option(100, min=1, help="Air stations, each with its own history"),
    years: float = typer.Option(5.0, min=0.01, help="Years of hourly history per station"),
    partitions: int = typer.Option(4, min=1),
    timeout_s: float = typer.Option(4 * 3600.0, help="Give up (cleanly, with what was reached) after this long"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
    keep: bool = KEEP_OPTION,
) -> None:
    """Years of hourly history through `citywatch replay --backfill` into gateway, worker and alert service."""
    from tools.bench.backfill import BackfillOptions, run_backfill_bench
    from tools.bench.suite import run_part

    _check_profile(profile)
    options = BackfillOptions(stations, years, partitions, profile, timeout_s=timeout_s, keep=keep, command=_command())
    console = _console()
    result = run_part("backfill", lambda: run_backfill_bench(options, console), console, out_dir)
    if not result.complete:
        raise typer.Exit(1)


@bench_app.command("all")
def all_parts(
    parts: str = typer.Option("ingest,latency,memory,scaling,backfill", help="Parts to run, in order, comma-separated"),
    small: bool = typer.Option(False, help="Small sizes for development on a busy box (not the figures to publish)"),
    profile: str = PROFILE_OPTION,
    out_dir: Path = OUT_DIR_OPTION,
) -> None:
    """Every part at full size (what `make bench` runs): each part's JSON, then one combined table (all.json)."""
    from tools.bench.backfill import BackfillOptions, run_backfill_bench
    from tools.bench.harness import stack_servers
    from tools.bench.ingest import IngestOptions, run_ingest_bench
    from tools.bench.latency import LatencyOptions, run_latency_bench
    from tools.bench.memory import MemoryOptions, run_memory_bench
    from tools.bench.scaling import ScalingOptions, run_scaling_bench
    from tools.bench.stats import PartResult
    from tools.bench.suite import run_part, write_combined

    _check_profile(profile)
    console = _console()
    command = _command()
    known = ("ingest", "latency", "memory", "scaling", "backfill")
    chosen = [p.strip() for p in parts.split(",") if p.strip()]
    unknown = set(chosen) - set(known)
    if unknown:
        raise typer.BadParameter(f"unknown parts {sorted(unknown)}; known: {', '.join(known)}", param_hint="--parts")
    ingest_o = IngestOptions(profile=profile, command=command)
    latency_o = LatencyOptions(profile=profile, command=command)
    memory_o = MemoryOptions(profile=profile, command=command)
    scaling_o = ScalingOptions(profile=profile, command=command)
    backfill_o = BackfillOptions(profile=profile, command=command)
    if small:
        ingest_o.readings, ingest_o.clients, ingest_o.stations = 10_000, 4, 200
        latency_o.rate, latency_o.duration_s, latency_o.batch, latency_o.stations = 50, 20, 25, 100
        memory_o.sites = (200, 1000, 2000)
        scaling_o.readings, scaling_o.stations = 2000, 100
        backfill_o.stations, backfill_o.years = 2, 0.1
    runners = {
        "ingest": lambda: run_ingest_bench(ingest_o, console),
        "latency": lambda: run_latency_bench(latency_o, console),
        "memory": lambda: run_memory_bench(memory_o, console),
        "scaling": lambda: run_scaling_bench(scaling_o, console),
        "backfill": lambda: run_backfill_bench(backfill_o, console),
    }
    results: list[PartResult] = []
    # The servers once for the whole suite (started if down, stopped again at the end).
    with stack_servers(profile, console, ("kafka", "redis", "alertmanager", "prometheus")):
        for part in chosen:
            results.append(run_part(part, runners[part], console, out_dir))
    write_combined(results, console, out_dir)
    if any(not r.complete for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `citywatch bench` to the top-level app."""
    app.add_typer(bench_app, name="bench")
