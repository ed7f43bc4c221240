"""Values as the standards report them, for people (alert text, on-call pages). Pure.

- Concentrations: whole µg/m³, CO to 0.1 mg/m³ (GB/T 8170 rounding, half up, as HJ 663 publishes them);
- AQI and IAQI: whole numbers, rounded up (HJ 633-2026 §4.2.6; shared/reference/standards.md §1);
- shares: per cent to one decimal (83.3 %);
- water classes: their names (I … V, 劣V; GB 3838-2002);
- tonnages: whole tonnes with thousands separators.
Anything else: at most four significant digits, never a float's full tail.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

CLASS_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "劣V"}
WHOLE_UNITS = frozenset({"µg/m³", "t", "t/day", "t/year", "count", "boardings", "vehicles"})


def _half_up(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


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
    if unit == "mg/m³":
        return str(_half_up(value, 1))
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
