"""Fixtures of the integration tests (the servers themselves are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from citywatch.devstack.config import StackConfig
from tests.conftest import Isolation
from tests.integration.webhook_receiver import WebhookReceiver
from tests.integration.worker_runs import REPLAY_HOURS, Input, Run, scenario_inputs, single_worker_run


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
    iso = Isolation(stack, tmp_path_factory.mktemp("reference"))
    try:
        return single_worker_run(iso, ordered_inputs)
    finally:
        iso.close()
