"""Values at the standards' reporting precision, for people."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citywatch.standards.reporting import CONCENTRATION_PLACES, as_reported, reported, with_unit


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (144.66666666666666, "AQI", "145"),  # rounded up, as HJ 633 reports an AQI
        (101.0, "AQI", "101"),
        (62.5875, "µg/m³", "63"),
        (62.5, "µg/m³", "62"),  # GB/T 8170 §3.2.4: a bare 5 rounds to the even digit
        (63.5, "µg/m³", "64"),
        (62.51, "µg/m³", "63"),  # a 5 followed by non-zero digits rounds up (§3.2.3)
        (1.25, "mg/m³", "1.2"),
        (1.35, "mg/m³", "1.4"),
        (0.8333333333333334, "ratio", "83.3 %"),
        (1.0, "ratio", "100.0 %"),
        (4.0, "class", "IV"),
        (6.0, "class", "劣V"),
        (2172.4, "t", "2,172"),
        (32.33333333333333, "µg/m³/1h", "32.33"),
    ],
)
def test_values_are_reported_at_the_standards_precision(value: float, unit: str, expected: str) -> None:
    assert reported(value, unit) == expected


def test_units_are_written_as_people_write_them() -> None:
    assert with_unit(0.8333333333333334, "ratio") == "83.3 %"
    assert with_unit(5, "class") == "class V"
    assert with_unit(144.7, "AQI") == "AQI 145"
    assert with_unit(62.4, "µg/m³") == "62 µg/m³"


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from(["µg/m³", "mg/m³"]))
def test_a_concentration_is_shown_as_the_exact_rounding_gives_it(value: float, unit: str) -> None:
    """`reported` shows exactly the value `as_reported` computes from the float's decimal, and never a negative
    zero."""
    exact = as_reported(Fraction(repr(value)), unit)
    places = CONCENTRATION_PLACES[unit]
    assert Fraction(reported(value, unit)) == exact
    assert reported(value, unit) == f"{float(exact):.{places}f}".removeprefix("-" if exact == 0 else "")
