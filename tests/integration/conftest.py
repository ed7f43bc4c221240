"""Fixtures of the integration tests (the servers themselves are in tests/conftest.py), and what several of them
start or send the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from citywatch.rule_engine.evaluation import fingerprint
from citywatch.site_registry import load_registry
from tests.conftest import Isolation
from tests.integration.webhook_receiver import WebhookReceiver
from tests.integration.worker_runs import REPLAY_HOURS, Input, Run, reference_run, scenario_inputs
from tools.cli.dashboards import DEFAULT_REGISTRY
from tools.devstack.config import StackConfig
from tools.devstack.stack import CitywatchProcess


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A webhook receiver on a free local port, counting every delivery."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def ordered_inputs() -> list[Input]:
    """The worker tests' replay: every feed of the sample registry, REPLAY_HOURS simulated hours, in order."""
    return scenario_inputs(REPLAY_HOURS)


@pytest.fixture(scope="session")
def reference(stack: StackConfig, tmp_path_factory: pytest.TempPathFactory, ordered_inputs: list[Input]) -> Run:
    """One worker over the ordered replay, never interrupted; computed once, shared by every module comparing
    a disturbed run with it (its worker is stopped once the results are read)."""
    return reference_run(stack, tmp_path_factory.mktemp("reference"), ordered_inputs)


def rule_evaluation(
    rule: str,
    site: str,
    outcome: str = "breach",
    value: float = 100.0,
    at: datetime = datetime(2026, 5, 1, tzinfo=UTC),
    *,
    test_id: str = "",
    **fields: Any,
) -> dict[str, Any]:
    """A rule evaluation as the worker publishes it on the rule-evaluations topic: `rule` judging a site's hourly
    PM2.5 against 75 µg/m³ for the environment department, labelled with the test's id when given; `fields`
    replace any of its fields (source, department, annotations ...)."""
    return {
        "rule_id": rule,
        "fingerprint": fingerprint(rule, site),
        "site": site,
        "indicator": "air.pm25.hourly",
        "value": value,
        "unit": "µg/m³",
        "outcome": outcome,
        "threshold": 75.0,
        "threshold_source": "rule value",
        "unverified": False,
        "observed_at": at.isoformat(),
        "revision": 0,
        "severity": "warning",
        "department": "environment",
        "source": "test",
        "labels": {"site": site, "test": test_id} if test_id else {"site": site},
        "annotations": {"summary": f"PM2.5 {value} at {site}"},
        **fields,
    }


def start_alerts(isolation: Isolation, **env: str) -> str:
    """The test's alert service (its webhook receivers and any other setting in `env`); its base URL."""
    alerts = isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", **env)
    return f"http://127.0.0.1:{alerts.metrics_port}"


def start_simulator(isolation: Isolation, ingest: CitywatchProcess, *args: str) -> CitywatchProcess:
    """`citywatch simulate` with `args`, publishing through the `ingest` gateway with a publisher key of every
    department of the sample registry."""
    registry = load_registry(DEFAULT_REGISTRY)
    keys_file = isolation.tmp_path / "simulator-keys.json"
    keys_file.write_text(json.dumps({d.id: isolation.api_key(d.id) for d in registry.departments}))
    return isolation.start(
        "simulate",
        "CITYWATCH_SIMULATOR_METRICS_PORT",
        CITYWATCH_INGEST_URL=f"http://127.0.0.1:{ingest.metrics_port}",
        CITYWATCH_SIMULATOR_KEYS_FILE=str(keys_file),
        args=args,
    )
