"""Pure helpers of the benchmarks: rates, ratios, metric and /proc parsing, the result document. No I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

WORKER_TARGET = 0.8
"""Issue 5/8 target: the worker at ≥ 0.8 × the empty faust agent's rate."""

RESULT_SCHEMA = "citywatch.bench.worker/1"

READINGS_METRIC = "citywatch_worker_readings_total"
"""The worker's readings counter (streams/metrics.py), which the benchmarks poll on /metrics."""


def rate(records: float, seconds: float) -> float | None:
    """Records per second; None when no time elapsed (nothing to divide by)."""
    if seconds <= 0:
        return None
    return records / seconds


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is unknown or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def counter_total(metrics_text: str, sample: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples (exposition text) over the label values not given in `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def counter_by_label(metrics_text: str, sample: str, label: str, **labels: str) -> dict[str, float]:
    """A counter's samples summed per value of one label (e.g. readings by outcome)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                key = s.labels.get(label, "")
                out[key] = out.get(key, 0.0) + s.value
    return out


def vm_hwm_bytes(proc_status: str) -> int | None:
    """Peak resident set size (VmHWM) from the text of /proc/<pid>/status, in bytes."""
    for line in proc_status.splitlines():
        if line.startswith("VmHWM:"):
            parts = line.split()
            value = int(parts[1])
            unit = parts[2].lower() if len(parts) > 2 else "kb"
            return value * {"kb": 1024, "mb": 1024**2, "b": 1}.get(unit, 1024)
    return None


@dataclass
class ConsumerRate:
    """One consumer's pass over the topic: `records` consumed between its first and last timestamps."""

    name: str
    label: str
    method: str
    records: int
    seconds: float
    complete: bool
    rate_per_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rate_per_s is None:
            self.rate_per_s = rate(self.records, self.seconds)


@dataclass
class WorkerBenchResult:
    """Everything one `citywatch bench worker` run measured, from the same pre-loaded topic."""

    readings: int
    stations: int
    partitions: int
    topic: str
    bootstrap: str
    started_at: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    cpu_count: int
    preload: ConsumerRate
    consumers: list[ConsumerRate]
    worker_peak_rss_bytes: int | None = None
    worker_store: str = "memory://"
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    def by_name(self, name: str) -> ConsumerRate | None:
        return next((c for c in self.consumers if c.name == name), None)

    def rate_of(self, name: str) -> float | None:
        consumer = self.by_name(name)
        return consumer.rate_per_s if consumer else None

    @property
    def worker_vs_empty_agent(self) -> float | None:
        return ratio(self.rate_of("worker"), self.rate_of("empty_agent"))

    @property
    def worker_vs_bare(self) -> float | None:
        return ratio(self.rate_of("worker"), self.rate_of("bare"))

    @property
    def empty_agent_vs_bare(self) -> float | None:
        return ratio(self.rate_of("empty_agent"), self.rate_of("bare"))

    @property
    def target_met(self) -> bool | None:
        value = self.worker_vs_empty_agent
        return None if value is None else value >= WORKER_TARGET

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RESULT_SCHEMA,
            "benchmark": "worker",
            "started_at": self.started_at,
            "command": self.command,
            "readings": self.readings,
            "stations": self.stations,
            "partitions": self.partitions,
            "topic": self.topic,
            "bootstrap": self.bootstrap,
            "worker_store": self.worker_store,
            "machine": {
                "cpu_count": self.cpu_count,
                "load_before": list(self.load_before),
                "load_after": list(self.load_after),
            },
            "versions": self.versions,
            "preload": asdict(self.preload),
            "consumers": {c.name: asdict(c) for c in self.consumers},
            "ratios": {
                "worker_vs_empty_agent": self.worker_vs_empty_agent,
                "worker_vs_bare": self.worker_vs_bare,
                "empty_agent_vs_bare": self.empty_agent_vs_bare,
            },
            "target": {
                "worker_vs_empty_agent_min": WORKER_TARGET,
                "met": self.target_met,
            },
            "worker_peak_rss_bytes": self.worker_peak_rss_bytes,
        }


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}/s"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def fmt_bytes(value: int | None) -> str:
    return "—" if value is None else f"{value / 1024**2:,.0f} MiB"
