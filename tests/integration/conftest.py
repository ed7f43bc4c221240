"""Fixtures of the integration tests (the servers themselves are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.webhook_receiver import WebhookReceiver


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A webhook receiver on a free local port, counting every delivery."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
