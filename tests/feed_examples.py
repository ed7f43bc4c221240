"""One valid record of every feed, shared by the schema contract tests and the gateway's auth matrix."""

from __future__ import annotations

from typing import Any

VALID: dict[str, dict[str, Any]] = {
    "air": {
        "station": "wj-songling",
        "observed_at": "2025-01-01T08:00:00+08:00",
        "averaging_period": "1h",
        "pm25": 35.5,
        "pm10": 60,
        "pm10_unit": "µg/m³",
        "o3": 80,
        "o3_unit": "µg/m³",
        "no2": 40,
        "no2_unit": "µg/m³",
        "so2": 8,
        "so2_unit": "µg/m³",
        "co": 0.8,
        "co_unit": "mg/m³",
        "quality_flags": {"o3": "C"},
    },
    "water": {
        "section": "wj-ws-fenhu",
        "sampled_at": "2025-03-10T10:00:00+08:00",
        "kind": "lake",
        "method": "manual",
        "pH": 7.6,
        "O2": 7.1,
        "CODMn": 4.2,
        "NH3N": 0.35,
        "TP": 0.06,
        "TN": 1.2,
        "unit": "mg/L",
        "fecal_coliform": 1200,
        "fecal_coliform_unit": "count/L",
        "Chla": 12.0,
        "Chla_unit": "µg/L",
        "transparency": 0.6,
        "transparency_unit": "m",
    },
    "bus": {
        "route": "wj-bus-701",
        "stop": "s-0701-05",
        "interval_start": "2025-01-02T07:00:00+08:00",
        "interval_end": "2025-01-02T08:00:00+08:00",
        "boardings": 132,
        "alightings": 97,
        "vehicle": "wj-v-701-01",
        "energy_type": "electric",
    },
    "mode_share": {
        "area": "wj-district",
        "date": "2025-01-02",
        "all_trips": 1_000_000,
        "public_transport_trips": 320_000,
        "source": "travel_survey",
    },
    "waste": {
        "plant": "wj-wte-phase2",
        "period": "delivery",
        "delivered_at": "2025-01-02T09:15:00+08:00",
        "ticket": "T-20250102-0042",
        "waste_kind": "residual",
        "received_tonnes": 18.4,
    },
}
