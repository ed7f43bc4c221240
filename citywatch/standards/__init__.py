"""The standards core: national standards and plan targets computed exactly, each number from one versioned table.

Pure: no I/O, no Kafka, Redis or HTTP. Every function that depends on a standard's version takes the observation's
*local* date (`versions.local_date`) and picks the table in force on it; values not confirmed against the official
text are reported in an `unverified` field of the result.

- `hj633`: IAQI and AQI (HJ 633-2012 / HJ 633-2026 from 2026-03-01)
- `gb3095`: concentration limits by date; `averages`: daily, 8 h, O3 daily max 8 h and annual means with validity
- `air_assessment`: annual assessment, exceedance days, good-day share, city daily AQI; `percentile`: HJ 663 method
- `gb3838`: water class of a section; `water_assessment`: 优Ⅲ share, basin rating, target compliance
- `targets`, `attainment`: plan targets and period-to-date attainment
- `tables/`: the numbers themselves
"""

from citywatch.standards.air_assessment import (
    AnnualAssessment,
    CityAqi,
    Exceedances,
    Statistic,
    annual_assessment,
    city_daily_aqi,
    city_daily_aqi_of_sums,
    exceedance_days,
    good_day_share,
)
from citywatch.standards.attainment import (
    Accumulator,
    Attainment,
    Status,
    attainment,
    projection_range,
    required_mean,
)
from citywatch.standards.averages import (
    AnnualMean,
    Average,
    DailyMax8h,
    FixedSum,
    annual_mean,
    daily_mean,
    daily_mean_of_sum,
    eight_hour_mean,
    eight_hour_mean_of_sum,
    hourly_value_valid,
    o3_daily_max_8h,
    o3_daily_max_8h_of_sums,
    o3_daily_max_8h_unverified,
)
from citywatch.standards.exact import Number, to_decimal, to_fraction
from citywatch.standards.gb3095 import Limit, gb3095_limit
from citywatch.standards.gb3838 import (
    IndicatorClass,
    SectionClass,
    WaterClass,
    classify_period,
    classify_section,
    indicator_class,
    mean_by_indicator,
)
from citywatch.standards.hj633 import AQI_INPUTS, AqiResult, SubIndex, aqi, category_for, sub_index
from citywatch.standards.percentile import percentile
from citywatch.standards.share import Share
from citywatch.standards.targets import Target, configured_target, plan_target, pm25_annual_target
from citywatch.standards.versions import Source, local_date
from citywatch.standards.water_assessment import (
    BasinRating,
    basin_rating,
    good_iii_share,
    meets_target,
    worse_than_v_share,
)

water_class = classify_section
"""Alias: the single-factor GB 3838 class of a section (`water_class({"nh3n": 1.2}, kind="river")`)."""

__all__ = [
    "AQI_INPUTS",
    "Accumulator",
    "AnnualAssessment",
    "AnnualMean",
    "AqiResult",
    "Attainment",
    "Average",
    "BasinRating",
    "CityAqi",
    "DailyMax8h",
    "Exceedances",
    "FixedSum",
    "IndicatorClass",
    "Limit",
    "Number",
    "SectionClass",
    "Share",
    "Source",
    "Statistic",
    "Status",
    "SubIndex",
    "Target",
    "WaterClass",
    "annual_assessment",
    "annual_mean",
    "aqi",
    "attainment",
    "basin_rating",
    "category_for",
    "city_daily_aqi",
    "city_daily_aqi_of_sums",
    "classify_period",
    "classify_section",
    "configured_target",
    "daily_mean",
    "daily_mean_of_sum",
    "eight_hour_mean",
    "eight_hour_mean_of_sum",
    "exceedance_days",
    "gb3095_limit",
    "good_day_share",
    "good_iii_share",
    "hourly_value_valid",
    "indicator_class",
    "local_date",
    "mean_by_indicator",
    "meets_target",
    "o3_daily_max_8h",
    "o3_daily_max_8h_of_sums",
    "o3_daily_max_8h_unverified",
    "percentile",
    "plan_target",
    "pm25_annual_target",
    "projection_range",
    "required_mean",
    "sub_index",
    "to_decimal",
    "to_fraction",
    "water_class",
    "worse_than_v_share",
]
