"""Plan targets and attainment. Sources: plan-indicators.md (targets, quoted) and issue 3 item 5 (required mean
(target·N − Σ)/N_remaining; on-track / at-risk within 80 % reach / off-track)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citywatch.standards import (
    Accumulator,
    Status,
    attainment,
    configured_target,
    plan_target,
    pm25_annual_target,
    required_mean,
)
from citywatch.standards.tables.plan import PLAN_TARGETS


@pytest.mark.parametrize(
    ("target_id", "value", "unit", "direction", "strict"),
    [
        ("public_transport_share", 35, "%", "at_least", False),  # 公共交通出行率达到35%
        ("clean_energy_bus_share", 85, "%", "at_least", False),  # 清洁能源公交车比例达到85%
        ("town_village_bus_coverage", 100, "%", "at_least", False),  # 镇村公交通达率保持100%
        ("incineration_capacity", 3000, "t/day", "at_least", False),  # 日处理能力达到3000吨
        ("sorted_waste_treatment_rate", 99, "%", "at_least", True),  # 超过99%
        ("hazardous_incineration_capacity", 70000, "t/year", "about", False),  # 每年7万吨左右
    ],
)
def test_plan_targets(target_id: str, value: int, unit: str, direction: str, strict: bool) -> None:
    target = plan_target(target_id)
    assert (target.value, target.unit, target.direction, target.strict) == (Decimal(value), unit, direction, strict)
    assert "ch." in target.source.clause and target.quote
    assert target.due == dt.date(2025, 12, 31)


def test_only_the_plans_numbers_are_plan_targets() -> None:
    assert len(PLAN_TARGETS) == 6
    with pytest.raises(KeyError, match="good_day_share"):
        plan_target("good_day_share")


def test_pm25_target_is_the_gb3095_annual_limit_by_date() -> None:
    assert pm25_annual_target(dt.date(2025, 12, 31)).value == 35
    t2026 = pm25_annual_target(dt.date(2026, 12, 31))
    assert t2026.value == 30 and t2026.direction == "at_most" and "GB 3095-2026" in t2026.source.clause


def test_configured_target_needs_a_source() -> None:
    with pytest.raises(ValueError, match="source"):
        configured_target(target_id="good_day_share", value="85", unit="%", direction="at_least", source=" ")
    target = configured_target(
        target_id="good_day_share", value="85.5", unit="%", direction="at_least", source="district bureau 2026 plan"
    )
    assert target.value == Decimal("85.5") and target.source.clause == "district bureau 2026 plan"


def test_required_mean_hand_calculation() -> None:
    # PM2.5 target 35 over 365 days; 100 days so far summing 4000 (mean 40):
    # required = (35·365 − 4000)/265 = 8775/265 = 33.11
    acc = Accumulator(365, 100, Fraction(4000))
    assert required_mean(Fraction(35), acc) == Fraction(8775, 265)


def test_on_track_when_the_pace_meets_the_target() -> None:
    result = attainment(pm25_annual_target(dt.date(2025, 12, 31)), Accumulator(365, 100, Fraction(3000)))
    assert result.status is Status.ON_TRACK and result.projection == 30


def test_at_risk_when_required_is_within_reach() -> None:
    # pace 40, required 33.11 >= 0.8·40 = 32 -> at-risk
    result = attainment(pm25_annual_target(dt.date(2025, 12, 31)), Accumulator(365, 100, Fraction(4000)))
    assert result.status is Status.AT_RISK and not result.impossible


def test_off_track_beyond_reach() -> None:
    # pace 50, required (12775 − 10000)/165 = 16.8 < 0.8·50 = 40 -> off-track
    result = attainment(pm25_annual_target(dt.date(2025, 12, 31)), Accumulator(365, 200, Fraction(10000)))
    assert result.status is Status.OFF_TRACK and not result.impossible
    relaxed = attainment(
        pm25_annual_target(dt.date(2025, 12, 31)), Accumulator(365, 200, Fraction(10000)), reach=Decimal("0.3")
    )
    assert relaxed.status is Status.AT_RISK


def test_off_track_when_impossible() -> None:
    # sum so far already above 35·365 = 12775: required < 0
    result = attainment(pm25_annual_target(dt.date(2025, 12, 31)), Accumulator(365, 300, Fraction(13000)))
    assert result.status is Status.OFF_TRACK and result.impossible


def test_share_target_at_least_with_upper_bound() -> None:
    bus = plan_target("public_transport_share")  # >= 35 %
    assert attainment(bus, Accumulator(12, 6, Fraction(6 * 36))).status is Status.ON_TRACK
    # pace 30 %, required (420 − 180)/6 = 40 %: 30 >= 0.8·40 = 32? no -> off-track; at reach 0.75 -> at-risk
    assert attainment(bus, Accumulator(12, 6, Fraction(180))).status is Status.OFF_TRACK
    assert attainment(bus, Accumulator(12, 6, Fraction(180)), reach=Fraction(3, 4)).status is Status.AT_RISK
    # clean-energy buses: pace 10 %, 11 of 12 months gone: required (1020 − 110)/1 = 910 % > 100 % -> impossible
    clean = attainment(plan_target("clean_energy_bus_share"), Accumulator(12, 11, Fraction(110)), reach=Decimal("0.01"))
    assert clean.status is Status.OFF_TRACK and clean.impossible


def test_strict_target() -> None:
    rate = plan_target("sorted_waste_treatment_rate")  # > 99 %
    assert attainment(rate, Accumulator(10, 5, Fraction(495))).status is not Status.ON_TRACK  # exactly 99
    assert attainment(rate, Accumulator(10, 5, Fraction(496))).status is Status.ON_TRACK


def test_complete_period() -> None:
    target = pm25_annual_target(dt.date(2025, 12, 31))
    done = attainment(target, Accumulator(2, 2, Fraction(70)))
    assert done.status is Status.ON_TRACK and done.required_mean is None
    missed = attainment(target, Accumulator(2, 2, Fraction(72)))
    assert missed.status is Status.OFF_TRACK and missed.impossible


def test_about_targets_cannot_be_projected() -> None:
    with pytest.raises(ValueError, match="about"):
        attainment(plan_target("hazardous_incineration_capacity"), Accumulator(12, 1, Fraction(6000)))


def test_accumulator() -> None:
    acc = Accumulator(365).add(30).add(Decimal("40.5")).add(29.5)
    assert (acc.count, acc.total, acc.mean, acc.remaining) == (3, Fraction(100), Fraction(100, 3), 362)
    assert acc.correct(40.5, 10.5).total == 70
    with pytest.raises(ValueError, match="no observations"):
        attainment(plan_target("public_transport_share"), Accumulator(12))
    with pytest.raises(ValueError, match="count"):
        Accumulator(2, 3)


def test_grade_i_pm25_target_in_the_transition_is_15() -> None:
    # GB 3095-2026 transition keeps PM2.5 Grade I at 15 annual (standards.md §0b); 10 applies only from 2031.
    assert pm25_annual_target(dt.date(2026, 6, 1), grade="I").value == 15
    assert pm25_annual_target(dt.date(2031, 6, 1), grade="I").value == 10


@given(
    st.integers(min_value=1, max_value=400),
    st.data(),
    st.integers(min_value=0, max_value=100_000).map(lambda n: Fraction(n, 100)),
)
def test_required_mean_reproduces_the_target_when_met_exactly(
    n_total: int, data: st.DataObject, target: Fraction
) -> None:
    count = data.draw(st.integers(min_value=0, max_value=n_total - 1))
    values = data.draw(st.lists(st.integers(min_value=0, max_value=500), min_size=count, max_size=count))
    acc = Accumulator(n_total)
    for v in values:
        acc = acc.add(v)
    required = required_mean(target, acc)
    assert required is not None
    for _ in range(acc.remaining):
        acc = acc.add(required)
    assert acc.mean == target


def test_the_projection_carries_a_range_that_narrows_as_the_year_fills() -> None:
    from citywatch.standards.attainment import projection_range

    early = [40, 20, 35, 50, 25, 30, 45, 15, 38, 42]  # ten winter-ish days, mean 34
    low, high = projection_range(early, 365) or (0.0, 0.0)
    assert low < 34 < high and high - low > 10  # ten days say little about the year
    later = early * 20  # the same spread over 200 days
    low2, high2 = projection_range(later, 365) or (0.0, 0.0)
    assert low2 < 34 < high2 and high2 - low2 < (high - low) / 3
    assert projection_range([30] * 50, 365) == (30.0, 30.0)  # no spread, nothing unknown
    assert projection_range([30], 365) is None  # one day has no spread to measure
    assert projection_range(early, 10) == (34.0, 34.0)  # the period is complete: the mean is the figure
