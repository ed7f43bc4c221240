"""The indicator catalogue: every indicator citywatch computes, named once.

Each entry says what the value is (id, feed, unit, window, description), how Prometheus calls it (`metric`, per
docs/architecture.md: `citywatch_<feed>_<quantity>_<unit>`; several indicators share a metric and differ by the
`window` label), and what it is judged against: `standard` names the standards family whose *versioned* table the
standards core picks by the observation's date ("GB 3095", "HJ 633", "HJ 663", "GB 3838"), `limit` the GB 3095
(pollutant, period) a rule resolves with `gb3095_limit`, and `target` a plan target id of
`citywatch.standards.plan_target` (or "pm25_annual_mean" for `pm25_annual_target`). No number is typed here.
"""

from __future__ import annotations

from dataclasses import dataclass

SITE_LABELS: tuple[str, ...] = ("site", "window", "standard")
"""The Prometheus labels of a measured quantity (docs/architecture.md)."""


@dataclass(frozen=True)
class Indicator:
    id: str
    feed: str
    unit: str
    window: str
    description: str
    metric: str  # Prometheus metric name, citywatch_<feed>_<quantity>_<unit>
    relates_to: str  # the standard or plan target it is judged against, in words
    stage: str = "site"  # "site" (per station/section/route/plant/area) or "district" (second stage)
    standard: str | None = None  # standards family whose versioned table applies by date
    limit: tuple[str, str] | None = None  # GB 3095 (pollutant, period) for gb3095_limit
    target: str | None = None  # plan target id (citywatch.standards.plan_target) or "pm25_annual_mean"
    labels: tuple[str, ...] = SITE_LABELS

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "feed": self.feed,
            "stage": self.stage,
            "unit": self.unit,
            "window": self.window,
            "metric": self.metric,
            "labels": list(self.labels),
            "standard": self.standard,
            "limit": None if self.limit is None else {"pollutant": self.limit[0], "period": self.limit[1]},
            "target": self.target,
            "relates_to": self.relates_to,
            "description": self.description,
        }


UG = "µg/m³"
MG = "mg/m³"
_AIR_UNITS = {"pm25": UG, "pm10": UG, "o3": UG, "no2": UG, "so2": UG, "co": MG}
_METRIC_UNITS = {UG: "ugm3", MG: "mgm3"}
_NAMES = {"pm25": "PM2.5", "pm10": "PM10", "o3": "O3", "no2": "NO2", "so2": "SO2", "co": "CO"}


def _air_metric(pollutant: str) -> str:
    return f"citywatch_air_{pollutant}_{_METRIC_UNITS[_AIR_UNITS[pollutant]]}"


# --- air: the two indicators the worker has published since the start (unchanged) ---------------------------------
PM25_1H = Indicator(
    id="air.pm25.1h",
    feed="air",
    unit="µg/m³",
    window="1h",
    description="PM2.5 hourly value as reported by the station",
    metric="citywatch_air_pm25_ugm3",
    relates_to="HJ 633 real-time report (1 h PM2.5 against the 24 h column)",
    standard="HJ 633",
)
PM25_MEAN_24H = Indicator(
    id="air.pm25.mean_24h",
    feed="air",
    unit="µg/m³",
    window="24h",
    description="PM2.5 mean of the station's hourly values over the 24 hours ending at the observation",
    metric="citywatch_air_pm25_ugm3",
    relates_to="GB 3095 Grade II 24-hour limit",
    standard="GB 3095",
    limit=("pm25", "24h"),
)


def _hourly(pollutant: str) -> Indicator:
    return Indicator(
        id=f"air.{pollutant}.1h",
        feed="air",
        unit=_AIR_UNITS[pollutant],
        window="1h",
        description=f"{_NAMES[pollutant]} hourly value (mean of the hour's valid values, HJ 212 flag N)",
        metric=_air_metric(pollutant),
        relates_to=f"HJ 633 real-time report; GB 3095 1 h limit where one exists ({_NAMES[pollutant]})",
        standard="GB 3095",
        limit=(pollutant, "1h") if pollutant in ("so2", "no2", "co", "o3") else None,
    )


def _daily(pollutant: str) -> Indicator:
    return Indicator(
        id=f"air.{pollutant}.daily_mean",
        feed="air",
        unit=_AIR_UNITS[pollutant],
        window="day",
        description=(
            f"{_NAMES[pollutant]} 24 h mean of the local day's hourly values; status valid with >= 20 valid hours "
            "(GB 3095 Table 4), else insufficient-data and the value is the mean of the hours present"
        ),
        metric=_air_metric(pollutant),
        relates_to=f"GB 3095 Grade II 24-hour limit ({_NAMES[pollutant]})",
        standard="GB 3095",
        limit=(pollutant, "24h"),
    )


_POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")
AIR_1H: dict[str, Indicator] = {p: (PM25_1H if p == "pm25" else _hourly(p)) for p in _POLLUTANTS}
AIR_DAILY_MEAN: dict[str, Indicator] = {p: _daily(p) for p in _POLLUTANTS if p != "o3"}

PM10_MEAN_24H = Indicator(
    id="air.pm10.mean_24h",
    feed="air",
    unit=UG,
    window="24h",
    description="PM10 mean of the station's hourly values over the 24 hours ending at the hour",
    metric="citywatch_air_pm10_ugm3",
    relates_to="HJ 633 real-time report (PM10 24 h moving mean); GB 3095 Grade II 24-hour limit",
    standard="GB 3095",
    limit=("pm10", "24h"),
)
O3_MEAN_8H = Indicator(
    id="air.o3.mean_8h",
    feed="air",
    unit=UG,
    window="8h",
    description="O3 8 h moving mean ending at the hour; status valid with >= 6 of 8 hours",
    metric="citywatch_air_o3_ugm3",
    relates_to="HJ 633 real-time report (O3 8 h moving mean); GB 3095 O3 8 h limit",
    standard="GB 3095",
    limit=("o3", "8h"),
)
O3_DAILY_MAX_8H = Indicator(
    id="air.o3.daily_max_8h",
    feed="air",
    unit=UG,
    window="day",
    description="O3 daily maximum 8 h mean (windows ending 08:00–24:00, >= 14 valid windows), when O3 is fed",
    metric="citywatch_air_o3_ugm3",
    relates_to="GB 3095 Grade II O3 daily max 8 h limit; HJ 633 daily report",
    standard="GB 3095",
    limit=("o3", "8h"),
)
AQI_REALTIME = Indicator(
    id="air.aqi.realtime",
    feed="air",
    unit="AQI",
    window="1h",
    description=(
        "Real-time AQI (HJ 633 by the hour's local date): 1 h SO2, NO2, CO, O3, the O3 8 h moving mean, and the "
        "1 h PM2.5/PM10 against the 24 h column; labels: category, primary pollutants"
    ),
    metric="citywatch_air_aqi_index",
    relates_to="HJ 633 real-time report",
    standard="HJ 633",
)
AQI_DAILY = Indicator(
    id="air.aqi.daily",
    feed="air",
    unit="AQI",
    window="day",
    description=(
        "Daily AQI (HJ 633 by date) from the valid 24 h means and the O3 daily max 8 h; status insufficient-data "
        "when no input is valid (then from the partial means); labels: category, primary pollutants"
    ),
    metric="citywatch_air_aqi_index",
    relates_to="HJ 633 daily report",
    standard="HJ 633",
)
PM25_ANNUAL_MEAN_YTD = Indicator(
    id="air.pm25.annual_mean_ytd",
    feed="air",
    unit=UG,
    window="ytd",
    description=(
        "PM2.5 mean of the year's valid daily means so far; status valid once GB 3095 Table 4 annual validity "
        "holds (>= 324 days, >= 27 per month, 25 in February), provisional before"
    ),
    metric="citywatch_air_pm25_ugm3",
    relates_to="GB 3095 Grade II annual limit (the default PM2.5 target, pm25_annual_target)",
    standard="GB 3095",
    limit=("pm25", "annual"),
    target="pm25_annual_mean",
)
GOOD_DAY_SHARE_YTD = Indicator(
    id="air.good_day_share_ytd",
    feed="air",
    unit="ratio",
    window="ytd",
    description="优良天数比例 so far this year: days with a valid daily AQI <= 100 over days with a valid daily AQI",
    metric="citywatch_air_good_days_ratio",
    relates_to="HJ 663 good-day share (the district's share is a configured target)",
    standard="HJ 663",
)
PM25_EXCEEDANCE_DAYS_YTD = Indicator(
    id="air.pm25.exceedance_days_ytd",
    feed="air",
    unit="count",
    window="ytd",
    description="Days this year whose valid PM2.5 24 h mean is above that day's GB 3095 Grade II 24 h limit",
    metric="citywatch_air_pm25_exceedance_days_count",
    relates_to="GB 3095 Grade II 24-hour limit, each day against its own version",
    standard="GB 3095",
    limit=("pm25", "24h"),
)
O3_EXCEEDANCE_DAYS_YTD = Indicator(
    id="air.o3.exceedance_days_ytd",
    feed="air",
    unit="count",
    window="ytd",
    description="Days this year whose valid O3 daily max 8 h is above that day's GB 3095 Grade II 8 h limit",
    metric="citywatch_air_o3_exceedance_days_count",
    relates_to="GB 3095 Grade II O3 8 h limit, each day against its own version",
    standard="GB 3095",
    limit=("o3", "8h"),
)
PM25_ATTAINMENT = Indicator(
    id="air.pm25.attainment",
    feed="air",
    unit=UG,
    window="year",
    description=(
        "PM2.5 annual-mean projection (mean of valid days so far, continued); status on-track / at-risk / "
        "off-track (citywatch.standards.attainment); labels: required_mean for the rest of the year, target"
    ),
    metric="citywatch_air_pm25_projection_ugm3",
    relates_to="PM2.5 annual target = GB 3095 Grade II annual limit (pm25_annual_target)",
    standard="GB 3095",
    limit=("pm25", "annual"),
    target="pm25_annual_mean",
)
CITY_AQI_DAILY = Indicator(
    id="air.city.aqi.daily",
    feed="air",
    unit="AQI",
    window="day",
    stage="district",
    description=(
        "City (district) daily AQI: each pollutant's valid daily value averaged over the district's stations, "
        "then HJ 633 (station AQIs are never averaged); labels: category, primary pollutants, stations"
    ),
    metric="citywatch_air_aqi_index",
    relates_to="HJ 663 city daily AQI; HJ 633 daily report",
    standard="HJ 633",
)
CITY_PM25_DAILY_MEAN = Indicator(
    id="air.city.pm25.daily_mean",
    feed="air",
    unit=UG,
    window="day",
    stage="district",
    description="District PM2.5 daily value: mean of the stations' valid PM2.5 24 h means",
    metric="citywatch_air_pm25_ugm3",
    relates_to="GB 3095 Grade II 24-hour limit",
    standard="GB 3095",
    limit=("pm25", "24h"),
)
CITY_GOOD_DAY_SHARE_YTD = Indicator(
    id="air.city.good_day_share_ytd",
    feed="air",
    unit="ratio",
    window="ytd",
    stage="district",
    description="District 优良天数比例 so far this year, from the city daily AQI",
    metric="citywatch_air_good_days_ratio",
    relates_to="HJ 663 good-day share; district good-day target (configuration)",
    standard="HJ 663",
)

# --- water ----------------------------------------------------------------------------------------------------------
_CLASS_NOTE = "value 1–6 = I, II, III, IV, V, 劣V; labels: class, rating, target class, main pollutants"
WATER_CLASS_SAMPLE = Indicator(
    id="water.class.sample",
    feed="water",
    unit="class",
    window="sample",
    description=f"GB 3838 single-factor class of one sample; {_CLASS_NOTE}",
    metric="citywatch_water_quality_class",
    relates_to="GB 3838-2002 Table 1, 环办[2011]22号 single-factor method",
    standard="GB 3838",
)
WATER_CLASS_MONTH = Indicator(
    id="water.class.month",
    feed="water",
    unit="class",
    window="month",
    description=f"Section class of the local month: mean of each indicator over the samples, then classify; {_CLASS_NOTE}",
    metric="citywatch_water_quality_class",
    relates_to="GB 3838-2002, 环办[2011]22号 time aggregation",
    standard="GB 3838",
)
WATER_CLASS_QUARTER = Indicator(
    id="water.class.quarter",
    feed="water",
    unit="class",
    window="quarter",
    description=f"Section class of the quarter (>= 2 samples, else insufficient-data); {_CLASS_NOTE}",
    metric="citywatch_water_quality_class",
    relates_to="GB 3838-2002, 环办[2011]22号 time aggregation",
    standard="GB 3838",
)
WATER_TARGET_MET_MONTH = Indicator(
    id="water.target_met.month",
    feed="water",
    unit="ratio",
    window="month",
    description="1 when the section's monthly class is its target class or better, else 0; status met / not-met",
    metric="citywatch_water_target_met_ratio",
    relates_to="the section's target class (水质目标, registry) under GB 3838",
    standard="GB 3838",
)
WATER_TARGET_MET_QUARTER = Indicator(
    id="water.target_met.quarter",
    feed="water",
    unit="ratio",
    window="quarter",
    description="1 when the section's quarterly class is its target class or better, else 0",
    metric="citywatch_water_target_met_ratio",
    relates_to="the section's target class (水质目标, registry) under GB 3838",
    standard="GB 3838",
)
WATER_GOOD_III_SHARE_MONTH = Indicator(
    id="water.good_iii_share.month",
    feed="water",
    unit="ratio",
    window="month",
    stage="district",
    description="优Ⅲ比例 of the district's sections for the month: sections at I–III over sections evaluated",
    metric="citywatch_water_good_iii_share_ratio",
    relates_to="环办[2011]22号 优Ⅲ比例; the district 优Ⅲ target (configuration)",
    standard="GB 3838",
)
WATER_GOOD_III_SHARE_QUARTER = Indicator(
    id="water.good_iii_share.quarter",
    feed="water",
    unit="ratio",
    window="quarter",
    stage="district",
    description="优Ⅲ比例 of the district's sections for the quarter (sections with a valid quarterly class)",
    metric="citywatch_water_good_iii_share_ratio",
    relates_to="环办[2011]22号 优Ⅲ比例; the district 优Ⅲ target (configuration)",
    standard="GB 3838",
)

# --- bus and mode share ---------------------------------------------------------------------------------------------
BUS_BOARDINGS_INTERVAL = Indicator(
    id="bus.boardings.interval",
    feed="bus",
    unit="count",
    window="interval",
    description="Boardings on the route in one counting interval (all vehicles and stops), by interval start",
    metric="citywatch_bus_boardings_count",
    relates_to="plan ch. 6 §4 public transport (context for public_transport_share)",
)
BUS_BOARDINGS_DAY = Indicator(
    id="bus.boardings.day",
    feed="bus",
    unit="count",
    window="day",
    description="Boardings on the route in the local day (intervals counted on the day they start)",
    metric="citywatch_bus_boardings_count",
    relates_to="plan ch. 6 §4 public transport (context for public_transport_share)",
)
BUS_BASELINE_HISTORY_DAYS = Indicator(
    id="bus.baseline.history_days",
    feed="bus",
    unit="days",
    window="day",
    description=(
        "Days with boardings among the four weeks up to and including the day (at most 28): how much of the history "
        "the ridership baseline needs the route has so far"
    ),
    metric="citywatch_bus_baseline_history_days",
    relates_to="bus.boardings.vs_baseline (a baseline of four same weekdays needs 28 days of data)",
)

BUS_BOARDINGS_VS_BASELINE = Indicator(
    id="bus.boardings.vs_baseline",
    feed="bus",
    unit="ratio",
    window="day",
    description=(
        "The day's boardings over the baseline: mean boardings of the same weekday in the previous four weeks, "
        "holidays and make-up workdays excluded; labels: baseline, baseline_days, day_type (day_type_reason when "
        "the holiday calendar does not know the year)"
    ),
    metric="citywatch_bus_boardings_vs_baseline_ratio",
    relates_to="ridership trend behind public_transport_share (plan ch. 6 §4)",
)
BUS_CLEAN_ENERGY_SHARE_DAY = Indicator(
    id="bus.clean_energy_share.day",
    feed="bus",
    unit="ratio",
    window="day",
    stage="district",
    description="Clean-energy share of the distinct vehicles seen in service in the district that day",
    metric="citywatch_bus_clean_energy_share_ratio",
    relates_to="清洁能源公交车比例达到85% (plan ch. 6 §4)",
    target="clean_energy_bus_share",
)
BUS_CLEAN_ENERGY_SHARE_FLEET = Indicator(
    id="bus.clean_energy_share.fleet",
    feed="bus",
    unit="ratio",
    window="fleet",
    stage="district",
    description="Clean-energy share of the registry's fleet (static; computed from the registry)",
    metric="citywatch_bus_clean_energy_share_ratio",
    relates_to="清洁能源公交车比例达到85% (plan ch. 6 §4)",
    target="clean_energy_bus_share",
)
PUBLIC_TRANSPORT_SHARE_DAY = Indicator(
    id="mode_share.public_transport.day",
    feed="mode_share",
    unit="ratio",
    window="day",
    description="Public-transport trips over all trips in the area that day",
    metric="citywatch_mode_share_public_transport_ratio",
    relates_to="公共交通出行率达到35% (plan ch. 6 §4)",
    target="public_transport_share",
)
PUBLIC_TRANSPORT_SHARE_YTD = Indicator(
    id="mode_share.public_transport.ytd",
    feed="mode_share",
    unit="ratio",
    window="ytd",
    description="Public-transport trips over all trips so far this year (ratio of the sums, not a mean of days)",
    metric="citywatch_mode_share_public_transport_ratio",
    relates_to="公共交通出行率达到35% (plan ch. 6 §4)",
    target="public_transport_share",
)

# --- waste ----------------------------------------------------------------------------------------------------------
WASTE_TONNES_DAY = Indicator(
    id="waste.tonnes.day",
    feed="waste",
    unit="t",
    window="day",
    description=(
        "Tonnes treated at the plant in the local day (incinerated where reported, else received); a plant's "
        "daily record of a waste kind replaces that kind's deliveries"
    ),
    metric="citywatch_waste_treated_tonnes",
    relates_to="生活垃圾焚烧日处理能力达到3000吨 (plan ch. 8 §4)",
    target="incineration_capacity",
)
WASTE_UTILISATION_DAY = Indicator(
    id="waste.utilisation.day",
    feed="waste",
    unit="ratio",
    window="day",
    description="The day's treated tonnes over the plant's design capacity (registry capacity_t_per_day)",
    metric="citywatch_waste_utilisation_ratio",
    relates_to="生活垃圾焚烧日处理能力达到3000吨 (plan ch. 8 §4)",
    target="incineration_capacity",
)
WASTE_HAZARDOUS_YTD = Indicator(
    id="waste.hazardous.ytd",
    feed="waste",
    unit="t",
    window="ytd",
    description="Hazardous-waste tonnes treated at the plant so far this year (incinerated, else received)",
    metric="citywatch_waste_hazardous_tonnes",
    relates_to="危废焚烧处置能力保持在每年7万吨左右 (plan ch. 8 §4)",
    target="hazardous_incineration_capacity",
)
WASTE_SORTED_TREATMENT_DAY = Indicator(
    id="waste.sorted_treatment_rate.day",
    feed="waste",
    unit="ratio",
    window="day",
    description="Sorted waste centrally treated over sorted waste collected at the plant that day",
    metric="citywatch_waste_sorted_treatment_ratio",
    relates_to="垃圾分类集中处理率超过99% (plan ch. 8 §4)",
    target="sorted_waste_treatment_rate",
)
DISTRICT_HAZARDOUS_YTD = Indicator(
    id="waste.district.hazardous.ytd",
    feed="waste",
    unit="t",
    window="ytd",
    stage="district",
    description="Hazardous-waste tonnes treated in the district so far this year (sum over plants)",
    metric="citywatch_waste_hazardous_tonnes",
    relates_to="危废焚烧处置能力保持在每年7万吨左右 (plan ch. 8 §4)",
    target="hazardous_incineration_capacity",
)
DISTRICT_SORTED_TREATMENT_YTD = Indicator(
    id="waste.district.sorted_treatment_rate.ytd",
    feed="waste",
    unit="ratio",
    window="ytd",
    stage="district",
    description="Sorted waste treated over sorted waste collected in the district so far this year (ratio of sums)",
    metric="citywatch_waste_sorted_treatment_ratio",
    relates_to="垃圾分类集中处理率超过99% (plan ch. 8 §4)",
    target="sorted_waste_treatment_rate",
)
DISTRICT_TONNES_DAY = Indicator(
    id="waste.district.tonnes.day",
    feed="waste",
    unit="t",
    window="day",
    stage="district",
    description="Household-waste tonnes incinerated in the district that day (incineration plants, all kinds but hazardous)",
    metric="citywatch_waste_treated_tonnes",
    relates_to="生活垃圾焚烧日处理能力达到3000吨 (plan ch. 8 §4)",
    target="incineration_capacity",
)

_ALL: tuple[Indicator, ...] = (
    *AIR_1H.values(),
    PM25_MEAN_24H,
    PM10_MEAN_24H,
    O3_MEAN_8H,
    AQI_REALTIME,
    *AIR_DAILY_MEAN.values(),
    O3_DAILY_MAX_8H,
    AQI_DAILY,
    PM25_ANNUAL_MEAN_YTD,
    GOOD_DAY_SHARE_YTD,
    PM25_EXCEEDANCE_DAYS_YTD,
    O3_EXCEEDANCE_DAYS_YTD,
    PM25_ATTAINMENT,
    CITY_AQI_DAILY,
    CITY_PM25_DAILY_MEAN,
    CITY_GOOD_DAY_SHARE_YTD,
    WATER_CLASS_SAMPLE,
    WATER_CLASS_MONTH,
    WATER_CLASS_QUARTER,
    WATER_TARGET_MET_MONTH,
    WATER_TARGET_MET_QUARTER,
    WATER_GOOD_III_SHARE_MONTH,
    WATER_GOOD_III_SHARE_QUARTER,
    BUS_BOARDINGS_INTERVAL,
    BUS_BOARDINGS_DAY,
    BUS_BOARDINGS_VS_BASELINE,
    BUS_BASELINE_HISTORY_DAYS,
    BUS_CLEAN_ENERGY_SHARE_DAY,
    BUS_CLEAN_ENERGY_SHARE_FLEET,
    PUBLIC_TRANSPORT_SHARE_DAY,
    PUBLIC_TRANSPORT_SHARE_YTD,
    WASTE_TONNES_DAY,
    WASTE_UTILISATION_DAY,
    WASTE_HAZARDOUS_YTD,
    WASTE_SORTED_TREATMENT_DAY,
    DISTRICT_TONNES_DAY,
    DISTRICT_HAZARDOUS_YTD,
    DISTRICT_SORTED_TREATMENT_YTD,
)

CATALOGUE: dict[str, Indicator] = {i.id: i for i in _ALL}
