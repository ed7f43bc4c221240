"""Water assessment over sections (环办[2011]22号): 优Ⅲ share, 劣V share, basin/river rating, target compliance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from citywatch.standards.exact import Number
from citywatch.standards.gb3838 import WaterClass, average_samples, classify_section
from citywatch.standards.share import Share
from citywatch.standards.tables.gb3838 import BASIN_RATING


def good_iii_share(classes: Iterable[WaterClass]) -> Share:
    """优Ⅲ比例: sections at class I–III over sections evaluated."""
    counted = list(classes)
    return Share(sum(c <= WaterClass.III for c in counted), len(counted))


def worse_than_v_share(classes: Iterable[WaterClass]) -> Share:
    """劣V比例: sections worse than class V over sections evaluated."""
    counted = list(classes)
    return Share(sum(c is WaterClass.WORSE_THAN_V for c in counted), len(counted))


def meets_target(actual: WaterClass, target: WaterClass) -> bool:
    """A section complies with its target class when its class is the target or better."""
    return actual <= target


def rating_from_classes(classes: Sequence[WaterClass]) -> str:
    """Rating of a river or basin with >= 5 sections, from the I–III share and the 劣V share."""
    if len(classes) < BASIN_RATING.min_sections:
        raise ValueError(
            f"rating by shares needs >= {BASIN_RATING.min_sections} sections, got {len(classes)}; "
            "use basin_rating() with the sections' concentrations"
        )
    good = good_iii_share(classes).fraction
    worse = worse_than_v_share(classes).fraction
    assert good is not None and worse is not None  # non-empty
    if good >= BASIN_RATING.excellent_at:
        return "优"
    if good >= BASIN_RATING.good_at:
        return "良好"
    if worse < BASIN_RATING.moderate_worse_v_at:
        return "轻度污染"
    if worse < BASIN_RATING.heavy_worse_v_at:
        return "中度污染"
    return "重度污染"


@dataclass(frozen=True, slots=True)
class BasinRating:
    rating: str
    method: str  # "shares" (>= 5 sections) or "mean concentrations" (< 5)
    classes: tuple[WaterClass, ...]  # each section's class
    good_iii: Share
    worse_than_v: Share
    mean_class: WaterClass | None  # with < 5 sections: the class of the averaged concentrations


def basin_rating(sections: Sequence[Mapping[str, Number]], kind: str = "river") -> BasinRating:
    """Rate a river or basin from its sections' (period-mean) concentrations.

    With >= 5 sections: by the I–III and 劣V shares. With fewer: average each indicator over the sections, then
    apply the single-factor class and its rating.
    """
    if not sections:
        raise ValueError("no sections given")
    classes = tuple(classify_section(section, kind).water_class for section in sections)
    good, worse = good_iii_share(classes), worse_than_v_share(classes)
    if len(sections) >= BASIN_RATING.min_sections:
        return BasinRating(rating_from_classes(classes), "shares", classes, good, worse, None)
    mean_class = classify_section(average_samples(sections), kind).water_class
    return BasinRating(mean_class.rating, "mean concentrations", classes, good, worse, mean_class)
