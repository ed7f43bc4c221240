"""Ending the worker so that its supervisor (Kubernetes, systemd, the test harness) starts it again.

A fresh worker resumes from the committed offsets, in each partition's order; at-least-once delivery and idempotent
outputs make that safe. The worker exits this way only where going on would lose or reorder readings, or where it
has stopped making progress (streams/faust_workarounds/stall.py).
"""

from __future__ import annotations

import logging
import os
from typing import Any, NoReturn

log = logging.getLogger("citywatch.worker")

EXIT_CODE = 70  # EX_SOFTWARE
RESTART = "exiting so that its supervisor restarts it (it resumes from the committed offsets)"
"""Ends every such log line: operators (and the tests' supervisor) recognise the exit by it."""


def exit_for_restart(reason: str, *args: Any, exc_info: BaseException | None = None) -> NoReturn:
    """Log `reason % args` and why the worker ends, flush the logs and exit at once: a graceful stop would wait for
    the very agent, consumer or broker that is stuck."""
    log.error(f"{reason}; {RESTART}", *args, exc_info=exc_info)
    logging.shutdown()
    os._exit(EXIT_CODE)
