"""The pure alert lifecycle: inactive → pending → firing → resolved on event time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from citywatch.rule_engine.lifecycle import AlertState, Outcome, Status, Step, Transition, apply

H = 3600.0


def run(outcomes: list[tuple[Outcome, float]], for_s: float = 0.0, keep_firing_for_s: float = 0.0) -> list[Step]:
    state = AlertState("fp")
    steps = []
    for outcome, at in outcomes:
        step = apply(state, outcome, at, for_s=for_s, keep_firing_for_s=keep_firing_for_s)
        steps.append(step)
        state = step.state
    return steps


def statuses(steps: list[Step]) -> list[str]:
    return [str(s.state.status) for s in steps]


def transitions(steps: list[Step]) -> list[Transition]:
    return [s.transition for s in steps if s.transition is not None]


def test_without_for_a_breach_fires_at_once_and_a_clear_resolves() -> None:
    steps = run([("clear", 0), ("breach", H), ("breach", 2 * H), ("clear", 3 * H)])
    assert statuses(steps) == ["inactive", "firing", "firing", "resolved"]
    assert [(t.previous, t.status, t.seq, t.transition_id) for t in transitions(steps)] == [
        (Status.INACTIVE, Status.FIRING, 1, "fp:1"),
        (Status.FIRING, Status.RESOLVED, 2, "fp:2"),
    ]


def test_for_keeps_an_alert_pending_until_the_breach_has_lasted_that_long() -> None:
    steps = run([("breach", 0), ("breach", H), ("breach", 2 * H)], for_s=2 * H)
    assert statuses(steps) == ["pending", "pending", "firing"]
    assert [t.notifies for t in transitions(steps)] == [False, True]


def test_a_pending_alert_that_clears_goes_back_to_inactive_without_notifying() -> None:
    steps = run([("breach", 0), ("clear", H)], for_s=2 * H)
    assert statuses(steps) == ["pending", "inactive"]
    assert not any(t.notifies for t in transitions(steps))


def test_hold_keeps_the_state_and_counts_as_active_while_pending() -> None:
    steps = run([("hold", 0), ("breach", H), ("hold", 2 * H), ("hold", 3 * H)], for_s=2 * H)
    assert statuses(steps) == ["inactive", "pending", "pending", "firing"]


def test_keep_firing_for_delays_the_resolve_after_the_condition_was_last_active() -> None:
    steps = run(
        [("breach", 0), ("clear", H), ("clear", 2 * H), ("breach", 3 * H), ("clear", 5 * H)], keep_firing_for_s=2 * H
    )
    assert statuses(steps) == ["firing", "firing", "resolved", "firing", "resolved"]


def test_an_older_outcome_is_stale_and_an_equal_event_time_is_applied() -> None:
    first = apply(AlertState("fp"), "breach", 10 * H)
    assert apply(first.state, "clear", 9 * H).effect == "stale"
    revised = apply(first.state, "clear", 10 * H)  # a revised indicator for the same bucket
    assert revised.state.status is Status.RESOLVED


def test_a_resolved_alert_can_fire_again() -> None:
    steps = run([("breach", 0), ("clear", H), ("breach", 2 * H)])
    assert statuses(steps) == ["firing", "resolved", "firing"]
    assert [t.seq for t in transitions(steps)] == [1, 2, 3]


@given(st.lists(st.sampled_from([74.0, 76.0]), min_size=1, max_size=60))
def test_a_signal_alternating_around_the_threshold_fires_once_and_never_resolves_above_the_clear_level(
    values: list[float],
) -> None:
    # Threshold 75, clear below 70: 76 breaches, 74 holds.
    outcomes: list[tuple[Outcome, float]] = [("breach" if v > 75 else "hold", n * H) for n, v in enumerate(values)]
    found = transitions(run(outcomes))
    assert len(found) == (1 if 76.0 in values else 0)
    assert all(t.status is Status.FIRING for t in found)


@given(st.lists(st.sampled_from(["breach", "clear", "hold"]), max_size=40), st.sampled_from([0.0, H, 3 * H]))
def test_replaying_the_same_outcomes_changes_nothing(outcomes: list[Outcome], for_s: float) -> None:
    timed = [(o, n * H) for n, o in enumerate(outcomes)]
    steps = run(timed, for_s=for_s)
    state = steps[-1].state if steps else AlertState("fp")
    for outcome, at in timed[:-1]:
        assert apply(state, outcome, at, for_s=for_s).effect == "stale"


def test_a_retired_rule_resolves_its_firing_alert_even_with_an_older_event_time() -> None:
    steps = run([("breach", 24 * H), ("retired", 2 * H)])
    assert statuses(steps) == ["firing", "resolved"]
    assert transitions(steps)[-1].at == 24 * H  # never before the alert's own last event


def test_a_retired_rule_drops_a_pending_alert_and_leaves_others_alone() -> None:
    assert statuses(run([("breach", 0.0), ("retired", H)], for_s=3 * H)) == ["pending", "inactive"]
    assert run([("retired", H)])[0].effect == "unchanged"
    assert run([("breach", 0.0), ("clear", H), ("retired", 2 * H)])[-1].effect == "unchanged"
