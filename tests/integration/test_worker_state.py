"""The worker's results do not depend on how it ran: a SIGKILL with a backlog, shuffled and duplicated input
within the allowed lateness, or two workers splitting the partitions all leave exactly the indicators and table
state of one uninterrupted worker over the ordered input. Every feed of the simulator, ten simulated days."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.topics import Topics
from tests.conftest import Isolation
from tests.integration.worker_runs import (
    REPLAY_PARTITIONS,
    Input,
    Run,
    assert_same,
    has_partitions,
    kill_behind,
    produce,
    produce_backlog,
    results,
    shuffled_with_duplicates,
    wait_for,
    worker_metrics,
)

PARTITIONS = REPLAY_PARTITIONS
# Compared with the same weekday of the four weeks before (tests/unit/indicators/test_bus.py covers it).
NEEDS_MORE_HISTORY = {"bus.boardings.vs_baseline"}


def _run(iso: Isolation, inputs: list[Input], workers: int = 1) -> tuple[Run, Topics]:
    topics = iso.ensure_topics(PARTITIONS)
    if workers == 1:
        produce(iso.stack.kafka_bootstrap, topics, inputs)  # a backlog: the worker starts behind
    for n in range(workers):
        iso.start(
            "worker",
            "CITYWATCH_WORKER_WEB_PORT",
            CITYWATCH_WORKER_DATA_DIR=str(iso.tmp_path / f"worker-{n}"),
        )
    if workers > 1:
        # Several workers share the partitions once the group settles; input produced during their rebalance
        # meets faust's recovery races (see streams/faust_workarounds/stall.py), which this test is not about.
        wait_for(lambda: all(has_partitions(p) for p in iso.processes), 90, "every worker to get partitions")
        produce(iso.stack.kafka_bootstrap, topics, inputs)
    return results(iso, topics, inputs), topics


def test_every_feed_yields_its_indicators(reference: Run) -> None:
    produced = {record["indicator"] for record in reference.indicators.values()}
    assert sorted(set(CATALOGUE) - produced - NEEDS_MORE_HISTORY) == []
    # ... and each on the worker's /metrics, as its catalogue metric with the indicator's window
    exported = {
        (s.name, s.labels.get("window"))
        for family in text_string_to_metric_families(reference.metrics)
        for s in family.samples
    }
    missing = [
        i.id for i in CATALOGUE.values() if i.id not in NEEDS_MORE_HISTORY and (i.metric, i.window) not in exported
    ]
    assert missing == []


def test_sigkill_with_a_backlog_then_restart_equals_the_uninterrupted_run(
    isolation: Isolation, ordered_inputs: list[Input], reference: Run
) -> None:
    topics, names = produce_backlog(isolation, ordered_inputs)
    # Small batches: at the default 1,000 the worker can take the whole backlog between two offset commits
    # (faust commits every 2.8 s), and there is no moment with part of it committed to kill it at.
    worker = isolation.start(
        "worker", "CITYWATCH_WORKER_WEB_PORT", CITYWATCH_WORKER_STORE="rocksdb://", CITYWATCH_WORKER_BATCH_SIZE="20"
    )
    kill_behind(isolation, worker, names, 0.05, 90)
    run = results(isolation, topics, ordered_inputs)
    assert_same(run, reference)


def test_shuffled_and_duplicated_input_equals_the_ordered_run(
    isolation: Isolation, ordered_inputs: list[Input], reference: Run
) -> None:
    shuffled = shuffled_with_duplicates(ordered_inputs)
    assert len(shuffled) > len(ordered_inputs)
    run, _ = _run(isolation, shuffled)
    assert_same(run, reference)


def test_two_workers_split_the_partitions_and_together_equal_one(
    isolation: Isolation, ordered_inputs: list[Input], reference: Run
) -> None:
    run, _ = _run(isolation, ordered_inputs, workers=2)
    assert_same(run, reference)
    for worker in isolation.processes:
        text = worker_metrics(worker.metrics_port)
        processed = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("citywatch_worker_readings_total{")
        )
        assert processed > 0, f"{worker.name} processed no reading: both workers must get partitions"


def test_a_correction_changes_the_outputs(isolation: Isolation, ordered_inputs: list[Input], reference: Run) -> None:
    target = next(i for i in ordered_inputs if i.feed == "air" and i.at.hour == 10)
    corrected = Input(
        target.feed,
        target.department,
        target.site,
        {**target.record, "pm25": float(target.record["pm25"]) + 100.0, "revision": 1},
        target.at,
    )
    at = ordered_inputs.index(target) + 20  # soon after, within the allowed lateness
    run, _ = _run(isolation, [*ordered_inputs[:at], corrected, *ordered_inputs[at:]])
    hour = [k for k, r in run.indicators.items() if r["indicator"] == "air.pm25.1h" and r["site"] == target.site]
    changed = [k for k in hour if run.indicators[k]["value"] != reference.indicators[k]["value"]]
    assert len(changed) == 1, changed
    hour_record = run.indicators[changed[0]]
    assert hour_record["value"] == pytest.approx(float(corrected.record["pm25"]))
    day = f"air.pm25.daily_mean|{target.site}|{hour_record['local_date']}"
    assert run.indicators[day]["value"] > reference.indicators[day]["value"]
    assert run.indicators[day]["revision"] > reference.indicators[day]["revision"]
