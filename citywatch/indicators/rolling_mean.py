"""Event-time rolling mean of one site's readings, with dedup and corrections.

State is a plain dict so it can live in a faust table (JSON-serialisable) and be rebuilt from its changelog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


class Sample(TypedDict):
    t: float  # observation instant, epoch seconds
    v: float
    rev: int


class RollingState(TypedDict):
    samples: dict[str, Sample]  # by event id
    latest_t: float


@dataclass(frozen=True)
class Update:
    """What one reading did to the state."""

    accepted: bool
    reason: str  # "new", "correction", "duplicate", "stale-revision", "too-late"
    mean: float | None
    samples: int


def new_state() -> RollingState:
    return {"samples": {}, "latest_t": 0.0}


def apply_reading(
    state: RollingState, event_id: str, t: float, value: float, revision: int, window_s: float
) -> tuple[RollingState, Update]:
    """Add a reading and return the new state and the mean of the window ending at the reading's time.

    Readings older than the window behind the newest one are too late to change any window still kept.
    """
    samples = dict(state["samples"])
    latest = max(state["latest_t"], t)
    if t <= latest - window_s:
        return state, Update(False, "too-late", None, 0)
    previous = samples.get(event_id)
    if previous is not None and previous["rev"] >= revision:
        reason = "duplicate" if previous["rev"] == revision else "stale-revision"
        return state, Update(False, reason, None, 0)
    samples[event_id] = {"t": t, "v": value, "rev": revision}
    # Keep what any window ending at or after the newest reading can still need.
    samples = {k: s for k, s in samples.items() if s["t"] > latest - window_s}
    in_window = [s["v"] for s in samples.values() if t - window_s < s["t"] <= t]
    mean = sum(in_window) / len(in_window)
    reason = "correction" if previous is not None else "new"
    return {"samples": samples, "latest_t": latest}, Update(True, reason, mean, len(in_window))
