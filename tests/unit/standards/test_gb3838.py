"""GB 3838-2002 single-factor class. Source: standards.md §3 (Table 1 and 环办[2011]22号)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citywatch.standards import (
    WaterClass,
    classify_period,
    classify_section,
    indicator_class,
    mean_by_indicator,
    water_class,
)
from citywatch.standards.tables.gb3838 import CLASS_INDICATORS, INDICATORS

I, II, III, IV, V, WORSE = (  # noqa: E741 - the standard's class names
    WaterClass.I,
    WaterClass.II,
    WaterClass.III,
    WaterClass.IV,
    WaterClass.V,
    WaterClass.WORSE_THAN_V,
)

# standards.md §3 Table 1 re-typed as the golden source: indicator -> limits of classes I..V ("<=", DO ">=")
TABLE_1 = {
    "do": ("7.5", "6", "5", "3", "2"),
    "codmn": ("2", "4", "6", "10", "15"),
    "cod": ("15", "15", "20", "30", "40"),
    "bod5": ("3", "3", "4", "6", "10"),
    "nh3n": ("0.15", "0.5", "1.0", "1.5", "2.0"),
    "tp": ("0.02", "0.1", "0.2", "0.3", "0.4"),
    "tn": ("0.2", "0.5", "1.0", "1.5", "2.0"),
    "f": ("1.0", "1.0", "1.0", "1.5", "1.5"),
    "petroleum": ("0.05", "0.05", "0.05", "0.5", "1.0"),
    "phenol": ("0.002", "0.002", "0.005", "0.01", "0.1"),
    "sulfide": ("0.05", "0.1", "0.2", "0.5", "1.0"),
    "fecal_coliform": ("200", "2000", "10000", "20000", "40000"),
    "cu": ("0.01", "1", "1", "1", "1"),
    "zn": ("0.05", "1", "1", "2", "2"),
    "se": ("0.01", "0.01", "0.01", "0.02", "0.02"),
    "as": ("0.05", "0.05", "0.05", "0.1", "0.1"),
    "hg": ("0.00005", "0.00005", "0.0001", "0.001", "0.001"),
    "cd": ("0.001", "0.005", "0.005", "0.005", "0.01"),
    "cr6": ("0.01", "0.05", "0.05", "0.05", "0.1"),
    "pb": ("0.01", "0.01", "0.05", "0.05", "0.1"),
    "cn": ("0.005", "0.05", "0.2", "0.2", "0.2"),
    "las": ("0.2", "0.2", "0.2", "0.3", "0.3"),
}
TP_LAKE = ("0.01", "0.025", "0.05", "0.1", "0.2")

D = Decimal


def test_table_module_holds_the_standards_md_values() -> None:
    for name, limits in TABLE_1.items():
        assert INDICATORS[name].limits == tuple(Decimal(x) for x in limits), name
    assert INDICATORS["tp"].lake_limits == tuple(Decimal(x) for x in TP_LAKE)
    assert INDICATORS["ph"].limits == (Decimal(6), Decimal(9))


def test_the_21_evaluation_indicators() -> None:
    """24 Table 1 items minus water temperature, TN and fecal coliform."""
    assert len(CLASS_INDICATORS) == 21
    assert {"tn", "fecal_coliform", "temperature"}.isdisjoint(CLASS_INDICATORS)


def _expected_at_limit(limits: tuple[str, ...], k: int) -> WaterClass:
    """At class k's limit the class is the best class sharing that limit (从优不从劣)."""
    return WaterClass(limits.index(limits[k]) + 1)


@pytest.mark.parametrize("name", sorted(TABLE_1))
def test_every_limit_is_inclusive_and_shared_limits_give_the_better_class(name: str) -> None:
    limits = TABLE_1[name]
    for k, limit in enumerate(limits):
        assert indicator_class(name, Decimal(limit)).water_class == _expected_at_limit(limits, k), (name, limit)
    beyond = Decimal(limits[-1]) - Decimal("0.01") if name == "do" else Decimal(limits[-1]) * Decimal("1.001")
    assert indicator_class(name, beyond).water_class == WORSE


def test_shared_limit_examples() -> None:
    assert indicator_class("cod", 15).water_class == I  # 15 is the I and II limit -> I
    assert indicator_class("cod", D("15.1")).water_class == III
    assert indicator_class("cu", 1).water_class == II  # II..V share 1 -> II
    assert indicator_class("cn", D("0.2")).water_class == III


def test_do_is_at_least() -> None:
    assert indicator_class("do", D("7.5")).water_class == I
    assert indicator_class("do", D("7.49")).water_class == II
    assert indicator_class("do", 5).water_class == III
    assert indicator_class("do", D("1.99")).water_class == WORSE


@pytest.mark.parametrize(("ph", "expected"), [("6", I), ("9", I), ("7.3", I), ("5.99", WORSE), ("9.01", WORSE)])
def test_ph_outside_6_to_9_is_worse_than_v(ph: str, expected: WaterClass) -> None:
    assert indicator_class("ph", Decimal(ph)).water_class == expected


def test_lake_tp_limits() -> None:
    assert indicator_class("tp", D("0.05"), "river").water_class == II
    assert indicator_class("tp", D("0.05"), "lake").water_class == III
    assert indicator_class("tp", D("0.25"), "lake").water_class == WORSE


def test_section_class_is_the_worst_indicator() -> None:
    result = water_class({"ph": D("7.5"), "do": D("6.5"), "codmn": D("4.5"), "nh3n": D("0.4"), "tp": D("0.15")})
    assert result.water_class == III
    assert result.limiting == ("codmn", "tp")
    assert result.main_pollutants == ()
    assert result.rating == "良好"


def test_lake_tn_is_classed_separately_and_does_not_set_the_class() -> None:
    result = classify_section({"nh3n": D("0.4"), "tp": D("0.02"), "tn": D("1.8")}, kind="lake")
    assert result.water_class == II  # TP 0.02 lake -> II, NH3-N 0.4 -> II
    assert result.separate["tn"].water_class == V
    river = classify_section({"nh3n": D("0.4"), "tn": D("1.8")}, kind="river")
    assert "tn" in river.not_evaluated and "tn" not in river.separate


def test_fecal_coliform_and_monitored_values_do_not_set_the_class() -> None:
    result = classify_section({"nh3n": D("0.1"), "fecal_coliform": 50000, "temperature": 18, "turbidity": 12})
    assert result.water_class == I
    assert result.separate["fecal_coliform"].water_class == WORSE
    assert set(result.not_evaluated) == {"temperature", "turbidity"}


def test_main_pollutants_worst_class_then_exceedance_multiple() -> None:
    # III limits: NH3-N 1.0, TP 0.2, COD 20, CODMn 6.
    # NH3-N 2.5 -> 劣V, multiple (2.5−1)/1 = 1.5; TP 0.5 -> 劣V, (0.5−0.2)/0.2 = 1.5; COD 45 -> 劣V, 25/20 = 1.25;
    # CODMn 12 -> V (multiple 1.0); DO 2.5 -> V (no multiple)
    result = classify_section({"nh3n": D("2.5"), "tp": D("0.5"), "cod": 45, "codmn": 12, "do": D("2.5")})
    assert result.water_class == WORSE
    assert [ic.indicator for ic in result.main_pollutants] == ["nh3n", "tp", "cod"]
    assert result.main_pollutants[0].exceedance_multiple == Fraction(3, 2)
    assert result.main_pollutants[2].exceedance_multiple == Fraction(5, 4)
    assert result.rating == "重度污染"


def test_main_pollutants_do_and_ph_have_no_multiple() -> None:
    # DO 2.5 -> V; NH3-N 1.6 -> V with multiple 0.6; pH 5 -> 劣V
    result = classify_section({"do": D("2.5"), "nh3n": D("1.6"), "ph": 5, "tp": D("0.1")})
    assert [ic.indicator for ic in result.main_pollutants] == ["ph", "nh3n", "do"]
    assert result.main_pollutants[0].exceedance_multiple is None
    assert result.main_pollutants[1].exceedance_multiple == Fraction(3, 5)


def test_target_class_compliance() -> None:
    result = classify_section({"nh3n": D("1.2")})
    assert result.water_class == IV
    assert result.meets(IV) and result.meets(V) and not result.meets(III)


def test_time_aggregation_is_the_mean_of_each_indicator() -> None:
    # NH3-N samples 0.4, 0.6, 2.3 -> mean 1.1 -> IV (the worst sample, 劣V, is never used)
    samples = [{"nh3n": D("0.4"), "tp": D("0.1")}, {"nh3n": D("0.6"), "tp": D("0.1")}, {"nh3n": D("2.3")}]
    assert mean_by_indicator(samples)["nh3n"] == Fraction(11, 10)
    assert mean_by_indicator(samples)["tp"] == Fraction(1, 10)
    assert classify_period(samples, "month").water_class == IV


def test_quarter_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="quarter"):
        classify_period([{"nh3n": 1}], "quarter")
    assert classify_period([{"nh3n": 1}, {"nh3n": 1}], "quarter").water_class == III


def test_bad_inputs() -> None:
    with pytest.raises(KeyError, match="nh4"):
        classify_section({"nh4": 1})
    with pytest.raises(ValueError, match="nh3n"):
        classify_section({"nh3n": -1})
    with pytest.raises(ValueError, match="kind"):
        classify_section({"nh3n": 1}, kind="sea")
    with pytest.raises(ValueError, match="no evaluation indicator"):
        classify_section({"tn": 1}, kind="lake")


@pytest.mark.parametrize(("text", "cls"), [("I", I), ("iii", III), ("Ⅳ", IV), ("劣V", WORSE), ("劣Ⅴ", WORSE)])
def test_parse_class(text: str, cls: WaterClass) -> None:
    assert WaterClass.parse(text) is cls
    assert WaterClass.parse(cls.label) is cls


def test_json_contract() -> None:
    out = classify_section({"nh3n": D("2.5"), "do": 6}).to_json()
    assert out["class"] == "劣V" and out["rating"] == "重度污染"
    assert out["limiting"] == ["nh3n"]
    assert out["main_pollutants"] == [{"indicator": "nh3n", "class": "劣V", "exceedance_multiple": "1.50"}]


VALUES = st.integers(min_value=0, max_value=200_000).map(lambda n: Fraction(n, 10_000))


@given(st.sampled_from(sorted(INDICATORS)), st.sampled_from(["river", "lake"]), VALUES, VALUES)
def test_class_never_better_when_a_value_worsens(name: str, kind: str, a: Fraction, b: Fraction) -> None:
    low, high = sorted((a, b))
    if name == "ph":
        return  # pH has no direction of worsening
    if name == "do":  # lower DO is worse
        low, high = high, low
    assert indicator_class(name, high, kind).water_class >= indicator_class(name, low, kind).water_class


@given(st.dictionaries(st.sampled_from(sorted(CLASS_INDICATORS)), VALUES, min_size=1), st.data())
def test_section_class_never_better_when_one_value_worsens(values: dict[str, Fraction], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(values)))
    if name == "ph":
        return
    step = data.draw(VALUES)
    worse = dict(values)
    worse[name] = max(Fraction(0), values[name] - step) if name == "do" else values[name] + step
    assert classify_section(worse).water_class >= classify_section(values).water_class
