"""`citywatch bench backfill`: years of hourly air history loaded the way the README says, `citywatch replay
--backfill` through the gateway, into a running gateway, worker and alert service (issue 18 item 6).

1. A registry with S air stations (the sample's and synthetic ones) and the run's topics, gateway, worker and
   alert service on the test stack (own prefix).
2. A CSV export of Y years of hourly values of all six pollutants for every station, stamped at the hour's
   beginning in local time (as exports are), one station after another.
3. `citywatch replay <csv> --backfill --time-convention hour-beginning` runs as its own process, as a person
   would run it; it ends when the worker has processed every reading (exit code 0) or gives up.
   Meanwhile the gateway's and the worker's counters are read every second: when the gateway had accepted every
   reading (the baseline: what the gateway alone takes) and when the worker had processed them.

Figures: readings/s end to end beside the gateway's acceptance rate, the elapsed time, and that time scaled to the
issue's 5 years × 100 stations (4.4 million readings) against its 10-minute target.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from citywatch.settings import env_name
from tools.bench.harness import BenchRun, bench_versions, machine, now_iso, scrape, stack_servers
from tools.bench.readings import registry_with_stations
from tools.bench.results import counter_total, rate
from tools.bench.stats import Figure, PartResult
from tools.devstack.config import REPO_ROOT

ISSUE_STATIONS = 100
ISSUE_YEARS = 5
TARGET_S = 600.0
"""Issue 18: 5 years × 100 stations of hourly air data loaded in ≤ 10 minutes."""
HOURS_PER_YEAR = 8766  # 365.25 days
POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")


@dataclass
class BackfillOptions:
    stations: int = ISSUE_STATIONS
    years: float = ISSUE_YEARS
    partitions: int = 4
    profile: str = "test"
    registry_file: Path = REPO_ROOT / "registry/wujiang-sample.yaml"
    zone: str = "Asia/Shanghai"
    timeout_s: float = 4 * 3600.0
    keep: bool = False
    command: str = ""


def write_history(path: Path, stations: list[str], first: datetime, hours: int, seed: int = 18) -> int:
    """A CSV export of `hours` hourly values from `first` (local, hour-beginning) for each station; the rows."""
    rng = random.Random(seed)
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "station", *POLLUTANTS])
        for station in stations:
            level = rng.uniform(20, 50)
            for h in range(hours):
                at = first + timedelta(hours=h)
                level = min(max(level + rng.gauss(0, 4), 3.0), 250.0)  # a slow random walk, as PM2.5 moves
                writer.writerow(
                    [
                        at.strftime("%Y-%m-%d %H:%M"),
                        station,
                        round(level, 1),
                        round(level * 1.6, 1),
                        round(rng.uniform(20, 160), 1),
                        round(rng.uniform(10, 60), 1),
                        round(rng.uniform(3, 15), 1),
                        round(rng.uniform(0.3, 1.5), 3),
                    ]
                )
                rows += 1
    return rows


class _Watch:
    """Reads the gateway's accepted and the worker's processed counters every second until stopped."""

    def __init__(self, gateway_metrics: str, worker_metrics: str, expected: int) -> None:
        self.urls = (gateway_metrics, worker_metrics)
        self.expected = expected
        self.started = time.monotonic()
        self.accepted_at: float | None = None
        self.processed_at: float | None = None
        self.timeline: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                accepted = counter_total(scrape(self.urls[0]), "citywatch_ingest_records_total", outcome="accepted")
                processed = counter_total(scrape(self.urls[1]), "citywatch_worker_readings_total")
            except OSError:
                continue
            now = time.monotonic() - self.started
            self.timeline.append((round(now, 1), accepted, processed))
            if self.accepted_at is None and accepted >= self.expected:
                self.accepted_at = now
            if self.processed_at is None and processed >= self.expected:
                self.processed_at = now


def run_backfill_bench(options: BackfillOptions, console: Console) -> PartResult:
    o = options
    zone = ZoneInfo(o.zone)
    hours = int(o.years * HOURS_PER_YEAR)
    result = PartResult(
        "backfill",
        now_iso(),
        {"stations": o.stations, "years": o.years, "hours_per_station": hours, "partitions": o.partitions},
        machine=machine(),
        versions=bench_versions(),
        command=o.command,
    )
    servers = ("kafka", "redis", "alertmanager")
    with stack_servers(o.profile, console, servers) as config, BenchRun(config, console, "backfill", o.keep) as run:
        registry, ids = registry_with_stations(o.registry_file, o.stations, run.tmp / "registry.yaml")
        stations = ids[: o.stations]
        run.create_topics(registry, o.partitions)
        # History ending a week before today: the live state is empty, the replay is all history.
        end = datetime.combine(date.today() - timedelta(days=7), datetime.min.time(), zone)
        first = end - timedelta(hours=hours)
        csv_path = run.tmp / "history.csv"
        console.print(f"writing {o.stations} stations × {hours:,} hours of history to {csv_path} …")
        readings = write_history(csv_path, stations, first, hours)
        env = {
            **run.env(registry, o.partitions),
            env_name("rate_limit_records"): str(readings + 100_000),
            env_name("worker_data_dir"): str(run.tmp / "worker"),
        }
        worker = run.start("worker", env_name("worker_web_port"), env)
        run.start("alerts", env_name("alerts_port"), env, health_path="/healthz")
        gateway = run.start("ingest", env_name("ingest_port"), env, health_path="/healthz")
        key = run.api_key()
        console.print(
            f"[bold]backfill benchmark[/]: {readings:,} readings ({o.stations} stations × {o.years:g} years) "
            f"through `citywatch replay --backfill`; prefix {run.prefix}"
        )
        replay_env = {
            **os.environ,
            **env,
            env_name("ingest_url"): f"http://127.0.0.1:{gateway.metrics_port}",
        }
        args = [sys.executable, "-m", "citywatch", "replay", str(csv_path), "--feed", "air", "--backfill",
                "--time-convention", "hour-beginning", "--key", key, "--wait", "600"]  # fmt: skip
        with _Watch(
            f"http://127.0.0.1:{gateway.metrics_port}/metrics",
            f"http://127.0.0.1:{worker.metrics_port}/metrics",
            readings,
        ) as watch:
            started = time.monotonic()
            replay = subprocess.run(args, env=replay_env, cwd=REPO_ROOT, timeout=o.timeout_s, check=False)
            elapsed = time.monotonic() - started
        posted_s = watch.accepted_at
        scaled = ISSUE_STATIONS * ISSUE_YEARS * HOURS_PER_YEAR
        end_to_end = rate(readings, elapsed)
        result.figures = [
            Figure(
                "backfill readings/s, end to end",
                end_to_end,
                "readings/s",
                "gateway accepting them",
                rate(readings, posted_s) if posted_s else None,
            ),
            Figure("backfill elapsed", elapsed, "s"),
            Figure(
                f"time for {ISSUE_STATIONS} stations × {ISSUE_YEARS} years ({scaled:,} readings) at this rate",
                scaled / end_to_end if end_to_end else None,
                "s",
                target=TARGET_S,
                target_on="value",
                higher_is_better=False,
                note="measured" if (o.stations, o.years) == (ISSUE_STATIONS, ISSUE_YEARS) else "scaled from the run",
            ),
        ]
        result.details = {
            "readings": readings,
            "replay_exit_code": replay.returncode,
            "gateway_accepted_all_at_s": posted_s,
            "worker_processed_all_at_s": watch.processed_at,
            "timeline": watch.timeline[:: max(1, len(watch.timeline) // 200)],
        }
        if replay.returncode != 0:
            result.complete = False
            result.problem = f"citywatch replay exited {replay.returncode}: not every reading was processed"
    return result
