"""Pure helpers of `citywatch bench`: rates, ratios, percentiles, pacing, the linear fit, metric and /proc parsing, readings, the JSON shapes and tables."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from citywatch.schemas.air import AirReading
from citywatch.site_registry import load_registry
from tools.bench.latency import latencies_ms, parse_rfc3339, prometheus_rule
from tools.bench.readings import air_station_ids, calm_reading, readings, registry_with_stations
from tools.bench.results import (
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
from tools.bench.stats import (
    SUITE_SCHEMA,
    Figure,
    Pacer,
    PartResult,
    backlog_growth,
    linear_fit,
    percentile,
    percentiles,
    results_table,
    status_bytes,
)
from tools.devstack.config import REPO_ROOT

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
    from tools.cli import bench

    app = typer.Typer()
    bench.register(app)

    @app.callback()
    def _root() -> None: ...

    out = CliRunner().invoke(app, ["bench", "worker", "--help"])
    assert out.exit_code == 0, out.output
    for option in ("--readings", "--stations", "--out", "--cprofile", "--consumers"):
        assert option in out.output


# --- the suite's pure parts: percentiles, pacing, the linear fit, figures and tables --------------------------------


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    import numpy as np

    values = [12.0, 3.0, 7.0, 40.0, 5.0, 9.0, 100.0]
    for p in (0, 50, 95, 99, 100):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    assert percentile([4.0], 99) == 4.0
    assert percentile([], 50) is None
    assert percentiles([1.0, 2.0, 3.0]) == {"p50": 2.0, "p95": pytest.approx(2.9), "p99": pytest.approx(2.98)}
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_pacer_is_an_open_loop_schedule() -> None:
    pacer = Pacer(rate_per_s=1000, batch=100, start=10.0)
    assert pacer.interval == pytest.approx(0.1)
    assert [pacer.due(k) for k in range(3)] == pytest.approx([10.0, 10.1, 10.2])
    assert pacer.batches_until(0.0) == 1  # batch 0 at once
    assert pacer.batches_until(1.0) == 11  # 0.0, 0.1, …, 1.0
    assert pacer.batches_until(-1.0) == 0
    # 10 s at 1,000/s in batches of 100: 100 batches, 10,000 readings, whatever the sender's speed
    assert pacer.batches_until(9.99) * pacer.batch == 10_000
    assert pacer.lag(5, 10.75) == pytest.approx(0.25)  # a late sender is measured, not waited for
    with pytest.raises(ValueError):
        Pacer(0, 100)


def test_linear_fit_slope_intercept_and_r2() -> None:
    fit = linear_fit([1000, 10_000, 100_000], [100e6 + 2000 * n for n in (1000, 10_000, 100_000)])
    assert fit.slope == pytest.approx(2000)
    assert fit.intercept == pytest.approx(100e6)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(50_000) == pytest.approx(200e6)
    noisy = linear_fit([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert noisy.slope == pytest.approx(0.8) and noisy.r2 == pytest.approx(0.64)
    assert linear_fit([1, 2], [5.0, 5.0]).r2 is None
    with pytest.raises(ValueError):
        linear_fit([1, 1], [1.0, 2.0])


def test_backlog_growth_is_the_slope_over_the_load() -> None:
    assert backlog_growth([(0.0, 0.0), (1.0, 500.0), (2.0, 1000.0)]) == pytest.approx(500.0)
    assert backlog_growth([(0.0, 10.0), (1.0, 12.0), (2.0, 8.0), (3.0, 10.0)]) == pytest.approx(-0.4)
    assert backlog_growth([(0.0, 1.0)]) is None


def test_status_bytes_reads_any_size_field() -> None:
    status = "Name:\tpython\nVmHWM:\t  131072 kB\nVmRSS:\t  120000 kB\n"
    assert status_bytes(status, "VmRSS") == 120000 * 1024
    assert status_bytes(status, "VmHWM") == 131072 * 1024
    assert status_bytes(status, "VmSwap") is None


def test_figures_ratio_and_target_both_ways() -> None:
    rate_fig = Figure("gateway", 30_000.0, "/s", "bare", 50_000.0, target=0.5)
    assert rate_fig.ratio == pytest.approx(0.6) and rate_fig.met is True
    assert Figure("gateway", 20_000.0, "/s", "bare", 50_000.0, target=0.5).met is False
    p99 = Figure("p99", 180.0, "ms", "Prometheus", 2100.0, target=250, target_on="value", higher_is_better=False)
    assert p99.met is True and p99.target_text() == "≤ 250.0 ms"
    assert Figure("p99", None, "ms", target=250, target_on="value", higher_is_better=False).met is None
    assert Figure("slope", 2000.0, "B/site").met is None and Figure("x", 1.0, "/s").ratio is None


def test_part_result_json_and_combined_table() -> None:
    ingest = PartResult("ingest", "2026-01-01T00:00:00+00:00", {"readings": 10})
    ingest.figures = [Figure("gateway accepted readings/s", 30_000.0, "/s", "bare producer", 50_000.0, target=0.5)]
    latency = PartResult("latency", "2026-01-01T00:00:00+00:00", {}, complete=False, problem="1000/s not sustained")
    latency.figures = [
        Figure("ingest→alert p99", 900.0, "ms", "Prometheus rule", 2000.0, 250, "value", higher_is_better=False)
    ]
    doc = json.loads(json.dumps(ingest.to_json()))
    assert doc["schema"] == SUITE_SCHEMA and doc["benchmark"] == "ingest" and doc["complete"] is True
    assert doc["figures"][0]["ratio"] == pytest.approx(0.6) and doc["figures"][0]["met"] is True
    console = Console(width=200, record=True)
    console.print(results_table([ingest, latency]))
    text = console.export_text()
    for expected in ("30,000/s", "50,000/s", "0.60×", "≥ 0.5× met", "900.0 ms", "0.45×", "≤ 250.0 ms missed"):
        assert expected in text, expected
    assert "latency (incomplete)" in text and "1000/s not sustained" in text


def test_probe_latency_from_the_202_and_prometheus_times() -> None:
    assert parse_rfc3339("2026-01-01T00:00:01.123456789Z") == pytest.approx(1767225601.123456)
    assert parse_rfc3339("2026-01-01T00:00:01Z") == pytest.approx(1767225601.0)
    out = latencies_ms({"a": 100.0, "b": 200.0, "c": 300.0}, {"a": 100.2, "c": 300.05})
    assert out == {"a": pytest.approx(200.0), "c": pytest.approx(50.0)}
    rule = prometheus_rule("bench123")
    assert 'citywatch_air_pm25_ugm3{window="24h",bench="bench123"} > 75' in rule
    import yaml

    assert yaml.safe_load(rule)["groups"][0]["rules"][0]["labels"] == {"bench": "bench123"}


def test_calm_readings_breach_nothing_and_probes_breach_pm25() -> None:
    import random

    from tools.bench.readings import FIRST_HOUR

    rng = random.Random(1)
    calm = [AirReading.model_validate(calm_reading("wj-songling", FIRST_HOUR, rng)) for _ in range(200)]
    assert max(r.pm25 or 0 for r in calm) <= 35 and max(r.o3 or 0 for r in calm) <= 100
    probe = AirReading.model_validate(calm_reading("wj-songling", FIRST_HOUR, rng, pm25=200.0))
    assert probe.pm25 == 200.0


def test_cli_registers_the_suite() -> None:
    from tools.cli import bench

    app = typer.Typer()
    bench.register(app)

    @app.callback()
    def _root() -> None: ...

    for part, options in {
        "ingest": ("--readings", "--batch", "--clients", "--timeout-s"),
        "latency": ("--rate", "--duration-s", "--probe-interval-s", "--drain-s", "--timeout-s"),
        "memory": ("--sites", "--timeout-s"),
        "scaling": ("--readings", "--partitions", "--timeout-s"),
        "all": ("--parts", "--small"),
    }.items():
        out = CliRunner().invoke(app, ["bench", part, "--help"])
        assert out.exit_code == 0, out.output
        for option in options:
            assert option in out.output, (part, option)
    out = CliRunner().invoke(app, ["bench", "memory", "--sites", "1000"])
    assert out.exit_code != 0 and "two" in out.output


def test_backfill_history_is_an_export_the_replay_reads_as_hour_beginning_readings(tmp_path: Path) -> None:
    """`bench backfill` writes what `citywatch replay --backfill --time-convention hour-beginning` is for: every row
    becomes a full hourly air reading of its station, stamped with the start of its hour (`observed_from`)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from services.simulator.replay import load
    from tools.bench.backfill import POLLUTANTS, write_history

    zone = ZoneInfo("Asia/Shanghai")
    first = datetime(2021, 1, 1, tzinfo=zone)
    path = tmp_path / "history.csv"
    assert write_history(path, ["wj-a", "wj-b"], first, 30) == 60
    loaded = load(path, "air", None, zone, "1h", "hour-beginning")
    records = [record for _, record in loaded.rows]
    assert len(records) == 60 and [r["station"] for r in records[:1] + records[-1:]] == ["wj-a", "wj-b"]
    assert datetime.fromisoformat(records[0]["observed_from"]) == first
    assert datetime.fromisoformat(records[-1]["observed_from"]) == first + timedelta(hours=29)
    assert all(r.get(p) is not None for r in records for p in POLLUTANTS)


def test_a_latency_probe_completes_the_hours_a_24h_mean_needs_and_only_it_breaches() -> None:
    """A 24 h mean of fewer valid hours than GB 3095 Table 4 asks is judged by no rule, so a probe station's
    earlier hours are seeded and its probe is the last hour needed; the seeds alone stay under both thresholds."""
    from citywatch.standards import daily_mean
    from tools.bench.latency import PROBE_PM25, PROM_THRESHOLD, SEED_PM25, LatencyBench
    from tools.bench.readings import FIRST_HOUR

    hours = LatencyBench.probe_hours()
    seeds = daily_mean([SEED_PM25] * (hours - 1), FIRST_HOUR.date())
    probed = daily_mean([SEED_PM25] * (hours - 1) + [PROBE_PM25], FIRST_HOUR.date())
    assert seeds.value is None and probed.value is not None
    assert seeds.partial is not None and seeds.partial < PROM_THRESHOLD < probed.value
