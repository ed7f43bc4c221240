"""The simulator's Prometheus metrics (the dashboards read their names from here)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

POSTED = Counter(
    "citywatch_simulator_readings_total",
    "Readings the simulator (or a replay) posted, by feed and gateway response (HTTP status, or 'unreachable')",
    ["feed", "status"],
)
SIM_TIME = Gauge("citywatch_simulator_clock_seconds", "The simulator's clock (event time), epoch seconds")
