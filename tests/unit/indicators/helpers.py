"""Shared test helpers: shuffling within the allowed lateness, comparing final results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from citywatch.indicators.records import last_outputs
from citywatch.schemas.indicator import IndicatorRecord

ZONE = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")


def shuffle_within(items: Sequence[T], times: Sequence[float], lateness_s: float, offsets: Sequence[float]) -> list[T]:
    """Arrival order: by event time plus a delay in [0, lateness): no item arrives more than `lateness` after a
    newer one, so every item is within the allowed lateness when it arrives."""
    keyed = sorted(range(len(items)), key=lambda i: (times[i] + offsets[i % len(offsets)] * lateness_s, i))
    return [items[i] for i in keyed]


def final(records: Sequence[IndicatorRecord]) -> dict[str, dict[str, Any]]:
    """The current value of every bucket, as plain data (what a consumer keeping the latest per bucket sees)."""
    return {k: r.model_dump(mode="json") for k, r in last_outputs(records).items()}


def canonical(state: object) -> str:
    return json.dumps(state, sort_keys=True)
