"""The indicator catalogue: every indicator citywatch computes, named once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    id: str
    feed: str
    unit: str
    window: str
    description: str
    metric: str  # Prometheus metric name, citywatch_<feed>_<quantity>_<unit>
    relates_to: str  # the standard or plan target it is judged against


PM25_1H = Indicator(
    id="air.pm25.1h",
    feed="air",
    unit="µg/m³",
    window="1h",
    description="PM2.5 hourly value as reported by the station",
    metric="citywatch_air_pm25_ugm3",
    relates_to="HJ 633 real-time report (1 h PM2.5 against the 24 h column)",
)
PM25_MEAN_24H = Indicator(
    id="air.pm25.mean_24h",
    feed="air",
    unit="µg/m³",
    window="24h",
    description="PM2.5 mean of the station's hourly values over the 24 hours ending at the observation",
    metric="citywatch_air_pm25_ugm3",
    relates_to="GB 3095 Grade II 24-hour limit",
)

CATALOGUE: dict[str, Indicator] = {i.id: i for i in (PM25_1H, PM25_MEAN_24H)}
