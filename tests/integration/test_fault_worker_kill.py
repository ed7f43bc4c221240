"""Fault: the worker is SIGKILLed again and again while it replays a backlog, with the alert service running.

Afterwards the indicators and the table state equal the uninterrupted reference run's (no reading lost, none
counted twice: every indicator bucket's last record and every table key compared), and the alert service, which
meets the evaluations the killed worker emits again after each restart, published each transition once and
called the webhook once per notifying transition. Size: FAULT_REPLAY_HOURS in worker_runs.py (100,145 readings),
with its own uninterrupted reference run.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import Isolation
from tests.integration.webhook_receiver import WebhookReceiver
from tests.integration.worker_runs import (
    FAULT_REPLAY_HOURS,
    Input,
    Run,
    assert_each_transition_once,
    assert_same,
    kill_behind,
    produce_backlog,
    reference_run,
    results,
    scenario_inputs,
)
from tools.devstack.config import StackConfig

# Its uninterrupted reference run (setup) and the replay with three restarts each take 1–2 minutes on 2 cores; the
# suite's 300 s per test is too tight for both on a busier machine. Every wait inside is bounded and says what it
# waited for.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

KILL_AT = (0.15, 0.40, 0.65)  # shares of the backlog committed (faust commits every 2.8 s): kills spread over it


@pytest.fixture(scope="module")
def replay() -> list[Input]:
    return scenario_inputs(FAULT_REPLAY_HOURS)


@pytest.fixture(scope="module")
def replay_reference(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory, replay: list[Input]) -> Run:
    return reference_run(stack, tmp_path_factory.mktemp("fault-reference"), replay)


def test_repeated_sigkill_during_a_replay_loses_and_duplicates_nothing(
    isolation: Isolation, replay: list[Input], replay_reference: Run, webhook: WebhookReceiver
) -> None:
    ordered_inputs, reference = replay, replay_reference
    assert len(ordered_inputs) >= 100_000
    bootstrap = isolation.stack.kafka_bootstrap
    topics, names = produce_backlog(isolation, ordered_inputs)
    started = time.monotonic()
    worker = isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT", CITYWATCH_WORKER_STORE="rocksdb://")
    alerts = isolation.start(
        "alerts",
        "CITYWATCH_ALERTS_PORT",
        health_path="/healthz",
        CITYWATCH_WEBHOOK_URLS=webhook.url,
        CITYWATCH_ALERTMANAGER_URL="",  # the topic and the webhook are what is counted
    )
    killed_at = [kill_behind(isolation, worker, names, share, 120) for share in KILL_AT]
    run = results(isolation, topics, ordered_inputs)
    replayed = time.monotonic() - started
    assert_same(run, reference)

    counts = assert_each_transition_once(bootstrap, topics, alerts, isolation.env["CITYWATCH_ALERTS_GROUP_ID"], webhook)
    print(
        f"\nworker SIGKILL x{len(KILL_AT)} at {', '.join(f'{s:.0%}' for s in killed_at)} of {len(ordered_inputs)} "
        f"readings: replay done in {replayed:.0f} s, {len(run.indicators)} indicator buckets equal; "
        f"{counts.evaluations} rule evaluations, {counts.transitions} alert transitions, "
        f"{counts.webhook_calls} webhook calls"
    )
