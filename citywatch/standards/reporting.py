"""Values as the standards report them, for people (alert text, on-call pages). Pure.

- Concentrations: whole µg/m³, CO to 0.1 mg/m³ (GB/T 8170 rounding: half to even, as HJ 663 publishes them);
  `as_reported` gives the exact rounded value (the AQI lookup's input under the default rounding rule);
- AQI and IAQI: whole numbers, rounded up (HJ 633-2026 §4.2.6; docs/sources/standards.md §1);
- shares: per cent to one decimal (83.3 %);
- water classes: their names (I … V, 劣V; GB 3838-2002);
- tonnages: whole tonnes with thousands separators.
Anything else: at most four significant digits, never a float's full tail.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from citywatch.standards.exact import to_fraction
from citywatch.standards.tables.hj633 import ConcentrationRounding

CLASS_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "劣V"}
WHOLE_UNITS = frozenset({"µg/m³", "t", "t/day", "t/year", "count", "boardings", "vehicles"})
CONCENTRATION_PLACES = {"µg/m³": 0, "mg/m³": 1}
_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}
_SCALES = {places: 10**places for places in range(4)}


def as_reported(value: Fraction, unit: str) -> Fraction:
    """A concentration rounded exactly to its reporting precision by GB/T 8170 (half to even): 60.4 -> 60,
    62.5 -> 62, 63.5 -> 64; CO 1.25 mg/m³ -> 1.2."""
    try:
        places = CONCENTRATION_PLACES[unit]
    except KeyError:
        raise KeyError(
            f"no reporting precision for {unit!r}; expected one of {', '.join(CONCENTRATION_PLACES)}"
        ) from None
    if value.denominator == 1:
        return value  # a whole number is at every precision already
    # In integers: the quotient of value × 10^places, moved up when the remainder is over half, or exactly half
    # with an odd quotient (half to even).
    scale = _SCALES[places]
    whole, rest = divmod(value.numerator * scale, value.denominator)
    twice = 2 * rest
    if twice > value.denominator or (twice == value.denominator and whole % 2 == 1):
        whole += 1
    return Fraction(whole, scale)


def _half_up(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(_QUANTA[places], rounding=ROUND_HALF_UP)


def at_precision(value: Fraction, unit: str, rounding: ConcentrationRounding) -> Fraction:
    """A concentration as the `rounding` rule compares it with a limit or looks it up: as reported, or exact."""
    return as_reported(value, unit) if rounding is ConcentrationRounding.REPORTED else value


def reported(value: float, unit: str) -> str:
    """`value` in `unit` at the standard's reporting precision, without the unit (see the module doc)."""
    if not math.isfinite(value):
        return str(value)
    if unit == "AQI":
        return str(math.ceil(value - 1e-9))
    if unit == "ratio":
        return f"{_half_up(value * 100, 1)} %"
    if unit == "class":
        return CLASS_NAMES.get(round(value), f"{value:g}")
    if unit in CONCENTRATION_PLACES:
        return f"{float(as_reported(to_fraction(value), unit)):.{CONCENTRATION_PLACES[unit]}f}"
    if unit in WHOLE_UNITS:
        return f"{int(_half_up(value, 0)):,}"
    return f"{value:.4g}"


def with_unit(value: float, unit: str) -> str:
    """`reported` with its unit where people write one (83.3 %, class IV, 62 µg/m³, AQI 145)."""
    shown = reported(value, unit)
    if unit == "ratio":
        return shown
    if unit == "class":
        return f"class {shown}"
    if unit == "AQI":
        return f"AQI {shown}"
    return f"{shown} {unit}"
