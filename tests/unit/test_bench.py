"""Pure helpers of `citywatch bench worker`: rates, ratios, metric and /proc parsing, readings, the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from citywatch.bench.readings import air_station_ids, readings, registry_with_stations
from citywatch.bench.results import (
    RESULT_SCHEMA,
    WORKER_TARGET,
    ConsumerRate,
    WorkerBenchResult,
    counter_by_label,
    counter_total,
    rate,
    ratio,
    vm_hwm_bytes,
)
from citywatch.devstack.config import REPO_ROOT
from citywatch.registry import load_registry
from citywatch.schemas.air import AirReading

REGISTRY = REPO_ROOT / "registry/wujiang-sample.yaml"

METRICS = """\
# HELP citywatch_worker_readings_total Readings processed by the worker
# TYPE citywatch_worker_readings_total counter
citywatch_worker_readings_total{feed="air",outcome="new"} 1500.0
citywatch_worker_readings_total{feed="air",outcome="duplicate"} 20.0
citywatch_worker_readings_total{feed="water",outcome="new"} 7.0
# HELP citywatch_worker_readings_created Readings processed by the worker
# TYPE citywatch_worker_readings_created gauge
citywatch_worker_readings_created{feed="air",outcome="new"} 1.7e+09
"""


def test_rate_and_ratio() -> None:
    assert rate(1000, 2.0) == 500.0
    assert rate(1000, 0.0) is None
    assert ratio(8.0, 10.0) == pytest.approx(0.8)
    assert ratio(None, 10.0) is None
    assert ratio(8.0, 0.0) is None


def test_counter_sums_over_outcomes_and_filters_labels() -> None:
    assert counter_total(METRICS, "citywatch_worker_readings_total", feed="air") == 1520.0
    assert counter_total(METRICS, "citywatch_worker_readings_total") == 1527.0
    assert counter_total(METRICS, "no_such_metric_total") == 0.0
    by_outcome = counter_by_label(METRICS, "citywatch_worker_readings_total", "outcome", feed="air")
    assert by_outcome == {"new": 1500.0, "duplicate": 20.0}


def test_vm_hwm_in_bytes() -> None:
    status = "Name:\tpython\nVmPeak:\t  900000 kB\nVmHWM:\t  131072 kB\nVmRSS:\t  120000 kB\n"
    assert vm_hwm_bytes(status) == 131072 * 1024
    assert vm_hwm_bytes("Name:\tkthreadd\n") is None


def result(worker: float, agent: float, bare: float) -> WorkerBenchResult:
    def consumer(name: str, per_s: float) -> ConsumerRate:
        return ConsumerRate(name, name, "test", 10_000, 10_000 / per_s, True)

    return WorkerBenchResult(
        readings=10_000,
        stations=5,
        partitions=4,
        topic="p.feed.air.environment",
        bootstrap="127.0.0.1:19092",
        started_at="2026-01-01T00:00:00+00:00",
        load_before=(0.5, 0.4, 0.3),
        load_after=(1.5, 0.6, 0.4),
        cpu_count=2,
        preload=ConsumerRate("preload", "producer", "test", 10_000, 0.5, True),
        consumers=[consumer("bare", bare), consumer("empty_agent", agent), consumer("worker", worker)],
        worker_peak_rss_bytes=100 * 1024**2,
    )


def test_consumer_rate_is_records_over_seconds() -> None:
    assert ConsumerRate("bare", "bare", "test", 3000, 1.5, True).rate_per_s == 2000.0
    assert ConsumerRate("worker", "worker", "timed out", 0, 0.0, False).rate_per_s is None


def test_ratios_and_target() -> None:
    r = result(worker=9000, agent=10_000, bare=100_000)
    assert r.worker_vs_empty_agent == pytest.approx(0.9)
    assert r.worker_vs_bare == pytest.approx(0.09)
    assert r.target_met is True
    assert result(worker=7000, agent=10_000, bare=100_000).target_met is False
    partial = result(worker=9000, agent=10_000, bare=100_000)
    partial.consumers = [c for c in partial.consumers if c.name != "empty_agent"]
    assert partial.worker_vs_empty_agent is None and partial.target_met is None


def test_result_json_shape() -> None:
    doc = json.loads(json.dumps(result(worker=9000, agent=10_000, bare=100_000).to_json()))
    assert doc["schema"] == RESULT_SCHEMA
    assert doc["benchmark"] == "worker"
    assert set(doc["consumers"]) == {"bare", "empty_agent", "worker"}
    for consumer in doc["consumers"].values():
        assert {"label", "method", "records", "seconds", "rate_per_s", "complete", "extra"} <= set(consumer)
    assert doc["consumers"]["worker"]["rate_per_s"] == pytest.approx(9000)
    assert doc["ratios"]["worker_vs_empty_agent"] == pytest.approx(0.9)
    assert doc["ratios"]["worker_vs_bare"] == pytest.approx(0.09)
    assert doc["target"] == {"worker_vs_empty_agent_min": WORKER_TARGET, "met": True}
    assert doc["worker_peak_rss_bytes"] == 100 * 1024**2
    assert doc["machine"] == {"cpu_count": 2, "load_before": [0.5, 0.4, 0.3], "load_after": [1.5, 0.6, 0.4]}
    assert doc["preload"]["rate_per_s"] == 20_000


def test_readings_pass_the_schema_and_the_registry_in_event_time_order() -> None:
    registry = load_registry(REGISTRY)
    stations = air_station_ids(registry)
    assert stations, "the sample registry lists air stations of the environment department"
    records = list(readings(3 * len(stations) + 1, stations))
    assert len(records) == 3 * len(stations) + 1
    parsed = [AirReading.model_validate_json(value) for _, value in records]
    for (key, _), reading in zip(records, parsed, strict=True):
        assert key == reading.station.encode()
        assert registry.may_publish("environment", "air", reading.station)
    first_station = [r for r in parsed if r.station == stations[0]]
    times = [r.observed_at for r in first_station]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len({r.event_id for r in parsed}) == len(parsed), "every reading is new: no duplicate event id"
    assert orjson.loads(records[0][1])["averaging_period"] == "1h"


def test_more_stations_than_the_registry_get_a_registry_copy(tmp_path: Path) -> None:
    same, ids = registry_with_stations(REGISTRY, 2, tmp_path / "r.yaml")
    assert same == REGISTRY and len(ids) == 2
    known = len(air_station_ids(load_registry(REGISTRY)))
    path, ids = registry_with_stations(REGISTRY, known + 3, tmp_path / "r.yaml")
    assert path == tmp_path / "r.yaml" and len(ids) == known + 3
    copy = load_registry(path)
    assert all(copy.may_publish("environment", "air", s) for s in ids)


def test_cli_registers_bench_worker() -> None:
    from citywatch.cli import bench

    app = typer.Typer()
    bench.register(app)

    @app.callback()
    def _root() -> None: ...

    out = CliRunner().invoke(app, ["bench", "worker", "--help"])
    assert out.exit_code == 0, out.output
    for option in ("--readings", "--stations", "--out", "--cprofile", "--consumers"):
        assert option in out.output
