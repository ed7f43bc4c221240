"""GB 3838-2002 single-factor water class of a section (环办[2011]22号), with its main pollutants and rating.

A section's class is the worst class of its evaluation indicators (the 21 of Table 1: not temperature, TN or fecal
coliform). Each indicator is tested from class I upward, so a limit shared by two classes gives the better one.
Lakes and reservoirs use the lake TP limits; their TN is classed separately and does not set the class.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from citywatch.standards.exact import Number, mean, to_concentration, to_decimal, to_fraction
from citywatch.standards.tables.gb3838 import (
    CLASS_INDICATORS,
    EXCEEDANCE_REFERENCE_CLASS,
    GB3838_2002,
    INDICATORS,
    MAIN_POLLUTANT_COUNT,
    MAIN_POLLUTANTS_ABOVE_CLASS,
    MIN_SAMPLES,
    MONITORED_NOT_CLASSIFIED,
    PRIORITY_POLLUTANTS,
    RATINGS,
    Indicator,
)

KINDS = ("river", "lake")
WATER_INPUTS = (*INDICATORS, *MONITORED_NOT_CLASSIFIED)
"""Accepted input names: the Table 1 indicators ("ph", "do", "codmn", …) and monitored values that set no class."""


class WaterClass(enum.IntEnum):
    """GB 3838 class; a larger value is worse water."""

    I = 1  # noqa: E741 - the standard's own name
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def label(self) -> str:
        return "劣V" if self is WaterClass.WORSE_THAN_V else self.name

    @property
    def rating(self) -> str:
        return RATINGS[self.value - 1][0]

    @property
    def colour(self) -> str:
        return RATINGS[self.value - 1][1]

    @classmethod
    def parse(cls, text: str) -> WaterClass:
        """ "I" … "V", "劣V" (also "worse_than_v", roman numerals in any case)."""
        cleaned = text.strip().upper().replace("Ⅰ", "I").replace("Ⅱ", "II").replace("Ⅲ", "III")
        cleaned = cleaned.replace("Ⅳ", "IV").replace("Ⅴ", "V")
        if cleaned in ("劣V", "WORSE_THAN_V"):
            return cls.WORSE_THAN_V
        if cleaned in ("I", "II", "III", "IV", "V"):
            return cls[cleaned]
        raise ValueError(f"unknown water class {text!r}; expected I, II, III, IV, V or 劣V")


@dataclass(frozen=True, slots=True)
class IndicatorClass:
    indicator: str
    value: Fraction
    water_class: WaterClass
    exceedance_multiple: Fraction | None  # (C − class III limit) / class III limit, when worse than III


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind: expected 'river' or 'lake', got {kind!r}")
    return kind


def indicator_class(indicator: str, value: Number, kind: str = "river") -> IndicatorClass:
    """The class one indicator's value meets (tested from class I upward; inclusive limits)."""
    if indicator not in INDICATORS:
        raise KeyError(f"unknown GB 3838 indicator {indicator!r}; expected one of {', '.join(INDICATORS)}")
    spec = INDICATORS[indicator]
    exact = to_concentration(value, name=indicator)
    water_class = _class_of(spec, exact, _kind(kind))
    multiple = None
    if water_class > EXCEEDANCE_REFERENCE_CLASS and spec.exceedance_multiple and spec.kind == "max":
        reference = Fraction(spec.limits_for(kind)[EXCEEDANCE_REFERENCE_CLASS - 1])
        multiple = (exact - reference) / reference
    return IndicatorClass(indicator, exact, water_class, multiple)


def _class_of(spec: Indicator, value: Fraction, kind: str) -> WaterClass:
    limits = [Fraction(limit) for limit in spec.limits_for(kind)]
    if spec.kind == "range":
        return WaterClass.I if limits[0] <= value <= limits[1] else WaterClass.WORSE_THAN_V
    for water_class, limit in zip(WaterClass, limits, strict=False):
        if (value >= limit) if spec.kind == "min" else (value <= limit):
            return water_class
    return WaterClass.WORSE_THAN_V


@dataclass(frozen=True, slots=True)
class SectionClass:
    water_class: WaterClass
    kind: str
    indicators: Mapping[str, IndicatorClass]  # the evaluation indicators given
    limiting: tuple[str, ...]  # indicators at the section's class
    main_pollutants: tuple[IndicatorClass, ...]  # worse than III: up to 3, worst class then largest multiple
    separate: Mapping[str, IndicatorClass]  # classed but not part of the class: lake TN, fecal coliform
    not_evaluated: Mapping[str, str]  # input -> why it sets no class
    standard: str = GB3838_2002.label

    @property
    def rating(self) -> str:
        return self.water_class.rating

    def meets(self, target: WaterClass) -> bool:
        """The section complies with its target class when its class is no worse."""
        return self.water_class <= target

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (the `citywatch water-class` output)."""
        return {
            "class": self.water_class.label,
            "rating": self.rating,
            "colour": self.water_class.colour,
            "kind": self.kind,
            "limiting": list(self.limiting),
            "main_pollutants": [
                {
                    "indicator": ic.indicator,
                    "class": ic.water_class.label,
                    "exceedance_multiple": None if ic.exceedance_multiple is None else _show(ic.exceedance_multiple),
                }
                for ic in self.main_pollutants
            ],
            "indicators": {name: ic.water_class.label for name, ic in self.indicators.items()},
            "separate": {name: ic.water_class.label for name, ic in self.separate.items()},
            "not_evaluated": dict(self.not_evaluated),
            "standard": self.standard,
        }


def _show(value: Fraction) -> str:
    return str(to_decimal(value, 2))


def classify_section(values: Mapping[str, Number], kind: str = "river") -> SectionClass:
    """Single-factor class of one sample (or of a period's means, see `classify_period`)."""
    kind = _kind(kind)
    indicators: dict[str, IndicatorClass] = {}
    separate: dict[str, IndicatorClass] = {}
    not_evaluated: dict[str, str] = {}
    for name, value in values.items():
        if name in MONITORED_NOT_CLASSIFIED:
            to_fraction(value, name=name)
            not_evaluated[name] = "monitored, sets no GB 3838 class"
            continue
        result = indicator_class(name, value, kind)
        spec = INDICATORS[name]
        if spec.in_class:
            indicators[name] = result
        elif spec.lake_only and kind != "lake":
            not_evaluated[name] = "TN is evaluated for lakes and reservoirs only"
        else:
            separate[name] = result
    if not indicators:
        raise ValueError(f"no evaluation indicator given; expected some of {', '.join(CLASS_INDICATORS)}")
    worst = max(ic.water_class for ic in indicators.values())
    return SectionClass(
        water_class=worst,
        kind=kind,
        indicators=indicators,
        limiting=tuple(name for name, ic in indicators.items() if ic.water_class == worst),
        main_pollutants=main_pollutants(indicators.values()) if worst > MAIN_POLLUTANTS_ABOVE_CLASS else (),
        separate=separate,
        not_evaluated=not_evaluated,
    )


def main_pollutants(indicators: Iterable[IndicatorClass]) -> tuple[IndicatorClass, ...]:
    """Up to 3 indicators worse than class III: cyanide and heavy metals first (`PRIORITY_POLLUTANTS`), then the
    worst class, then the largest exceedance multiple.

    pH and DO have no multiple; within a class they come after the indicators that have one.
    """
    over = [ic for ic in indicators if ic.water_class > MAIN_POLLUTANTS_ABOVE_CLASS]
    over.sort(
        key=lambda ic: (
            ic.indicator not in PRIORITY_POLLUTANTS,
            -ic.water_class,
            ic.exceedance_multiple is None,
            -(ic.exceedance_multiple or 0),
        )
    )
    return tuple(over[:MAIN_POLLUTANT_COUNT])


def mean_by_indicator(samples: Sequence[Mapping[str, Number]], period: str = "month") -> dict[str, Fraction]:
    """Arithmetic mean of each indicator over a period's samples (never the worst sample).

    `period` is "week", "ten_days", "month", "quarter" (>= 2 samples) or "year".
    """
    if period not in MIN_SAMPLES:
        raise ValueError(f"period: expected one of {', '.join(MIN_SAMPLES)}, got {period!r}")
    if len(samples) < MIN_SAMPLES[period]:
        raise ValueError(f"a {period} evaluation needs >= {MIN_SAMPLES[period]} samples, got {len(samples)}")
    return average_samples(samples)


def average_samples(samples: Sequence[Mapping[str, Number]]) -> dict[str, Fraction]:
    """Arithmetic mean of each indicator over the samples (or sections) that have it."""
    by_indicator: dict[str, list[Fraction]] = {}
    for i, sample in enumerate(samples):
        for name, value in sample.items():
            by_indicator.setdefault(name, []).append(to_fraction(value, name=f"samples[{i}].{name}"))
    return {name: mean(values) for name, values in by_indicator.items()}


def classify_period(
    samples: Sequence[Mapping[str, Number]], period: str = "month", kind: str = "river"
) -> SectionClass:
    """Class of a section over a period: the mean of each indicator, then the single-factor class."""
    return classify_section(mean_by_indicator(samples, period), kind)
