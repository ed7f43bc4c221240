import random

from hypothesis import given
from hypothesis import strategies as st

from citywatch.indicators.rolling_mean import apply_reading, new_state

DAY = 24 * 3600.0
H = 3600.0


def feed(readings: list[tuple[str, float, float, int]]):
    state = new_state()
    updates = []
    for event_id, t, v, rev in readings:
        state, update = apply_reading(state, event_id, t, v, rev, DAY)
        updates.append(update)
    return state, updates


def test_mean_of_the_24_hours_ending_at_the_reading() -> None:
    readings = [(f"e{i}", i * H, float(i), 0) for i in range(30)]
    _, updates = feed(readings)
    # At hour 29 the window (5 h, 29 h] holds hours 6..29: mean 17.5 (hand calculation: (6+29)/2).
    assert updates[-1].mean == 17.5
    assert updates[-1].samples == 24


def test_duplicate_is_dropped_and_correction_replaces() -> None:
    state, updates = feed([("a", H, 10.0, 0), ("b", 2 * H, 20.0, 0), ("a", H, 10.0, 0), ("a", H, 40.0, 1)])
    assert [u.reason for u in updates] == ["new", "new", "duplicate", "correction"]
    # The window ending at the corrected hour holds only the corrected value, not the original 10.
    assert (updates[-1].mean, updates[-1].samples) == (40.0, 1)
    _, later = apply_reading(state, "c", 3 * H, 60.0, 0, DAY)
    assert later.mean == 40.0  # (40 + 20 + 60) / 3: later windows see the correction too
    _, stale = apply_reading(state, "a", H, 5.0, 0, DAY)
    assert stale.reason == "stale-revision" and not stale.accepted


def test_reading_older_than_the_window_behind_the_newest_is_too_late() -> None:
    state, _ = feed([("new", 100 * H, 1.0, 0)])
    _, update = apply_reading(state, "old", 70 * H, 1.0, 0, DAY)
    assert (update.accepted, update.reason) == (False, "too-late")


def test_state_drops_samples_no_window_can_need() -> None:
    state, _ = feed([(f"e{i}", i * H, 1.0, 0) for i in range(100)])
    assert len(state["samples"]) == 24


@given(st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=24), st.randoms())
def test_final_mean_does_not_depend_on_arrival_order(values: list[float], rnd: random.Random) -> None:
    readings = [(f"e{i}", i * H, v, 0) for i, v in enumerate(values)]
    shuffled = readings[:]
    rnd.shuffle(shuffled)
    state_a, _ = feed(readings)
    state_b, _ = feed(shuffled)
    assert state_a == state_b
