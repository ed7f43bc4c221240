"""Running parts of the suite: each part's JSON in bench-results/<part>.json, a clear message when one times out
or fails, and one combined table (`citywatch bench all`)."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from citywatch.settings import env_name
from tools.bench.harness import BenchTimeout, machine, now_iso
from tools.bench.stats import PartResult, results_table
from tools.devstack.servers import ServerStartError

RESULTS_DIR = Path("bench-results")


def write_part(result: PartResult, out_dir: Path = RESULTS_DIR) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result.part}.json"
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return path


def run_part(
    part: str, measure: Callable[[], PartResult], console: Console, out_dir: Path | None = RESULTS_DIR
) -> PartResult:
    """Measure one part; a timeout or failure becomes an incomplete result with the reason (also written)."""
    try:
        result = measure()
    except BenchTimeout as exc:
        console.print(f"[red]{exc}[/]")
        result = PartResult(part, now_iso(), {}, complete=False, problem=str(exc), machine=machine())
    except (RuntimeError, ServerStartError, OSError) as exc:
        console.print(f"[red]{part} failed: {exc}[/]")
        if os.environ.get(env_name("bench_traceback")):
            console.print(traceback.format_exc())
        result = PartResult(part, now_iso(), {}, complete=False, problem=f"failed: {exc}", machine=machine())
    console.print(results_table([result], title=f"citywatch bench {part}"))
    if out_dir is not None:
        console.print(f"results written to {write_part(result, out_dir)}")
    return result


def write_combined(results: list[PartResult], console: Console, out_dir: Path = RESULTS_DIR) -> Path:
    """The combined table of every part run, and all.json holding each part's document."""
    console.print(
        results_table(results, title="citywatch benchmarks (each figure beside its baseline from the same run)")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "all.json"
    path.write_text(json.dumps({"parts": {r.part: r.to_json() for r in results}}, indent=2) + "\n")
    console.print(f"combined results written to {path}")
    return path
