"""Pure helpers of the benchmark suite: percentiles, rate pacing, a least-squares line, figures and their tables.

No I/O: the parts (`citywatch bench ingest|latency|memory|scaling`) measure, these functions only compute and
format, so they are unit-tested on their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from tools.bench.results import ratio

SUITE_SCHEMA = "citywatch.bench.suite/1"


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0–100) by linear interpolation between closest ranks (numpy's default); None if empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0–100")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentiles(values: Sequence[float], ps: Sequence[float] = (50, 95, 99)) -> dict[str, float | None]:
    """{"p50": …, "p95": …, "p99": …} of the values."""
    return {f"p{p:g}": percentile(values, p) for p in ps}


class Pacer:
    """When each batch of an open-loop load is due: batch k (0-based) of `batch` readings at `rate` readings/s is
    due at start + k × batch / rate. The schedule never stretches when the sender falls behind, so what was
    achieved can be told from what was asked (a closed loop would hide a slow system by slowing down)."""

    def __init__(self, rate_per_s: float, batch: int, start: float = 0.0) -> None:
        if rate_per_s <= 0 or batch <= 0:
            raise ValueError("rate and batch size must be positive")
        self.rate_per_s = rate_per_s
        self.batch = batch
        self.start = start
        self.interval = batch / rate_per_s

    def due(self, k: int) -> float:
        """The time batch k is due."""
        return self.start + k * self.interval

    def batches_until(self, elapsed_s: float) -> int:
        """How many batches are due within the first `elapsed_s` seconds (batch 0 is due at once)."""
        if elapsed_s < 0:
            return 0
        return math.floor(elapsed_s / self.interval + 1e-9) + 1

    def lag(self, k: int, now: float) -> float:
        """How late batch k is sent at `now` (negative: early)."""
        return now - self.due(k)


def status_bytes(proc_status: str, name: str) -> int | None:
    """A size field (VmRSS, VmHWM …) of the text of /proc/<pid>/status, in bytes; None when absent."""
    for line in proc_status.splitlines():
        if line.startswith(f"{name}:"):
            parts = line.split()
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            return int(parts[1]) * {"kb": 1024, "mb": 1024**2, "b": 1}.get(unit, 1024)
    return None


@dataclass(frozen=True)
class LinearFit:
    """y = slope × x + intercept by least squares, with the coefficient of determination r²."""

    slope: float
    intercept: float
    r2: float | None
    points: int

    def predict(self, x: float) -> float:
        return self.slope * x + self.intercept


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Least-squares line through the points (at least two distinct x). r² is None when every y is equal."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        raise ValueError("a line needs at least two distinct x values")
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return LinearFit(slope, intercept, None if ss_tot == 0 else 1 - ss_res / ss_tot, n)


def backlog_growth(timeline: Sequence[tuple[float, float]]) -> float | None:
    """Records/s by which a backlog grew over a timeline of (seconds, backlog) — the slope of its line; None
    with fewer than two distinct times."""
    if len({t for t, _ in timeline}) < 2:
        return None
    return linear_fit([t for t, _ in timeline], [b for _, b in timeline]).slope


@dataclass
class Figure:
    """One measured figure beside its baseline from the same run.

    `higher_is_better` says which way the target points: a rate must reach `target` × baseline (or the absolute
    `target` when there is no baseline), a latency must stay at or under it.
    """

    name: str
    value: float | None
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: float | None = None
    target_on: str = "ratio"  # "ratio": target is a minimum/maximum ratio; "value": an absolute limit
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.target_on == "ratio" else self.value
        if measured is None:
            return None
        return measured >= self.target if self.higher_is_better else measured <= self.target

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "≥" if self.higher_is_better else "≤"
        return (
            f"{sign} {self.target:g}×" if self.target_on == "ratio" else f"{sign} {fmt_value(self.target, self.unit)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


@dataclass
class PartResult:
    """What one part of the suite measured: its figures (each beside its baseline), parameters and details."""

    part: str
    started_at: str
    params: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    problem: str = ""  # why the part is incomplete (timed out, not sustained …), in plain words
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    command: str = ""

    def figure(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SUITE_SCHEMA,
            "benchmark": self.part,
            "started_at": self.started_at,
            "command": self.command,
            "complete": self.complete,
            "problem": self.problem,
            "params": self.params,
            "machine": self.machine,
            "versions": self.versions,
            "figures": [f.to_json() for f in self.figures],
            "details": self.details,
        }


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "bytes":
        return f"{value / 1024**2:,.1f} MiB" if abs(value) >= 1024**2 else f"{value:,.0f} B"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "r2":
        return f"{value:.4f}"
    return f"{value:,.2f} {unit}".rstrip()


def verdict(met: bool | None) -> str:
    return "" if met is None else ("[green]met[/]" if met else "[red]missed[/]")


def results_table(results: Sequence[PartResult], title: str = "citywatch benchmarks") -> Table:
    """One row per figure: value, its baseline (name and value from the same run), the ratio and the target."""
    table = Table(title=title)
    for column, justify in (
        ("part", "left"),
        ("figure", "left"),
        ("value", "right"),
        ("baseline", "left"),
        ("baseline value", "right"),
        ("ratio", "right"),
        ("target", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        part = result.part if result.complete else f"{result.part} [red](incomplete)[/]"
        if not result.figures:
            table.add_row(part, result.problem or "no figures", "", "", "", "", "")
        for i, f in enumerate(result.figures):
            target = f.target_text()
            table.add_row(
                part if i == 0 else "",
                f.name,
                fmt_value(f.value, f.unit),
                f.baseline_name,
                fmt_value(f.baseline, f.unit) if f.baseline_name else "",
                "" if f.ratio is None else f"{f.ratio:.2f}×",
                f"{target} {verdict(f.met)}".strip(),
            )
    problems = [f"{r.part}: {r.problem}" for r in results if r.problem]
    if problems:
        table.caption = "; ".join(problems)
    return table
