"""The alert lifecycle as a pure function: inactive → pending → firing → resolved, on event time.

One state per fingerprint (rule id + entity labels). `apply` takes the state and one evaluation outcome and returns
the new state and, when the status changed, the transition to publish. No I/O: the alert service keeps the state
(Redis) and the rule test runner keeps it in a dict.

- breach: an inactive or resolved alert becomes pending (firing at once when `for` is 0); a pending one fires once
  it has been active for `for`.
- hold (between the clear level and the threshold): the alert stays as it is; a pending or firing alert counts
  as still active (hysteresis latches the breach until the clear condition holds).
- clear: a pending alert goes back to inactive (nobody was told); a firing one resolves, but only once the
  condition has been inactive for `keep_firing_for` since it was last active.
- retired (the rule was removed from the rule files): a firing alert resolves and a pending one goes back to
  inactive, whatever the event time, since no later evaluation of the rule will ever come.
- An outcome with an event time older than the last one applied is `stale` and changes nothing; an equal event
  time is applied (a revised indicator for the same bucket).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Literal

Outcome = Literal["breach", "clear", "hold", "retired"]
Effect = Literal["transition", "unchanged", "stale"]


class Status(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


NOTIFYING = frozenset({Status.FIRING, Status.RESOLVED})
"""Transitions into these statuses are delivered to on-call staff; pending ones are only recorded."""


@dataclass(frozen=True, slots=True)
class AlertState:
    fingerprint: str
    status: Status = Status.INACTIVE
    active_since: float | None = None  # event time (epoch s) the condition became active
    last_active_at: float | None = None  # the latest event time the condition was active
    since: float | None = None  # event time of the latest transition
    last_at: float | None = None  # event time of the latest outcome applied
    seq: int = 0  # number of transitions so far


@dataclass(frozen=True, slots=True)
class Transition:
    fingerprint: str
    seq: int
    previous: Status
    status: Status
    at: float  # event time of the outcome that caused it

    @property
    def transition_id(self) -> str:
        return f"{self.fingerprint}:{self.seq}"

    @property
    def notifies(self) -> bool:
        return self.status in NOTIFYING


@dataclass(frozen=True, slots=True)
class Step:
    state: AlertState
    effect: Effect
    transition: Transition | None = None


def apply(
    state: AlertState, outcome: Outcome, at: float, *, for_s: float = 0.0, keep_firing_for_s: float = 0.0
) -> Step:
    """The state after one evaluation outcome at event time `at` (epoch seconds)."""
    if outcome == "retired":
        return _retire(state, at)
    if state.last_at is not None and at < state.last_at:
        return Step(state, "stale")
    seen = replace(state, last_at=at)
    active_before = state.status in (Status.PENDING, Status.FIRING)
    active = outcome == "breach" or (outcome == "hold" and active_before)

    if state.status in (Status.INACTIVE, Status.RESOLVED):
        if not active:
            return Step(seen, "unchanged")
        started = replace(seen, active_since=at, last_active_at=at)
        return _move(started, Status.FIRING if for_s <= 0 else Status.PENDING, at)

    if state.status is Status.PENDING:
        if not active:
            return _move(replace(seen, active_since=None, last_active_at=None), Status.INACTIVE, at)
        still = replace(seen, last_active_at=at)
        assert state.active_since is not None
        if at - state.active_since >= for_s:
            return _move(still, Status.FIRING, at)
        return Step(still, "unchanged")

    # firing
    if active:
        return Step(replace(seen, last_active_at=at), "unchanged")
    last_active = state.last_active_at if state.last_active_at is not None else at
    if at - last_active < keep_firing_for_s:
        return Step(seen, "unchanged")
    return _move(replace(seen, active_since=None), Status.RESOLVED, at)


def _retire(state: AlertState, at: float) -> Step:
    at = max(at, state.last_at or at)
    if state.status is Status.FIRING:
        return _move(replace(state, last_at=at, active_since=None), Status.RESOLVED, at)
    if state.status is Status.PENDING:
        return _move(replace(state, last_at=at, active_since=None, last_active_at=None), Status.INACTIVE, at)
    return Step(state, "unchanged")


def _move(state: AlertState, status: Status, at: float) -> Step:
    seq = state.seq + 1
    transition = Transition(state.fingerprint, seq, state.status, status, at)
    return Step(replace(state, status=status, since=at, seq=seq), "transition", transition)
