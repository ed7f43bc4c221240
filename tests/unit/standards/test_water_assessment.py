"""Water assessment over sections. Source: standards.md §3 (优Ⅲ比例, basin rating table, < 5 sections rule)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from citywatch.standards import WaterClass, basin_rating, good_iii_share, meets_target, worse_than_v_share
from citywatch.standards.water_assessment import rating_from_classes

I, II, III, IV, V, WORSE = list(WaterClass)  # noqa: E741 - the standard's class names

D = Decimal


def test_good_iii_share() -> None:
    share = good_iii_share([I, II, III, IV, WORSE])
    assert (share.numerator, share.denominator) == (3, 5)
    assert share.percent == 60
    assert good_iii_share([]).fraction is None


def test_worse_than_v_share() -> None:
    assert worse_than_v_share([V, WORSE, WORSE, I]).fraction == Fraction(1, 2)


@pytest.mark.parametrize(
    ("classes", "rating"),
    [
        ([II] * 9 + [IV], "优"),  # 90 % I–III
        ([II] * 8 + [IV] * 2, "良好"),  # 80 %
        ([II] * 6 + [IV] * 2, "良好"),  # 75 % (6 of 8)
        ([II] * 7 + [IV] * 3, "轻度污染"),  # 70 %, no 劣V
        ([II] * 7 + [IV] * 2 + [WORSE], "轻度污染"),  # 70 %, 劣V 10 %
        ([II] * 7 + [IV] + [WORSE] * 2, "中度污染"),  # 劣V 20 %
        ([II] * 3 + [IV] * 3 + [WORSE] * 4, "重度污染"),  # 劣V 40 %
        ([II] * 5 + [WORSE] * 5, "重度污染"),
    ],
)
def test_rating_from_shares(classes: list[WaterClass], rating: str) -> None:
    assert rating_from_classes(classes) == rating


def test_rating_from_shares_needs_five_sections() -> None:
    with pytest.raises(ValueError, match="5 sections"):
        rating_from_classes([I, I, I, I])


def test_basin_rating_with_five_or_more_sections_uses_shares() -> None:
    sections = [{"nh3n": D("0.4")}] * 4 + [{"nh3n": D("2.5")}]  # 4 × II, 1 × 劣V -> 80 % I–III -> 良好
    result = basin_rating(sections)
    assert result.method == "shares" and result.rating == "良好"
    assert result.classes == (II, II, II, II, WORSE)


def test_basin_rating_with_fewer_sections_averages_concentrations() -> None:
    # NH3-N 0.4 and 2.5 -> mean 1.45 -> IV -> 轻度污染 (the share method would not apply)
    result = basin_rating([{"nh3n": D("0.4")}, {"nh3n": D("2.5")}])
    assert result.method == "mean concentrations"
    assert result.mean_class == IV and result.rating == "轻度污染"


def test_meets_target() -> None:
    assert meets_target(II, III) and meets_target(III, III) and not meets_target(IV, III)
