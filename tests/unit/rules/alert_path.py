"""The pure path from a station's hourly PM2.5 to its air-pm25-24h-grade2 alert: the air stage, the rule engine
and the alert lifecycle, as the worker and the alert service chain them, without Kafka or Redis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from citywatch.indicators.air_station import AirContext, process_station
from citywatch.indicators.eventtime import Lateness
from citywatch.rule_engine.engine import RuleEngine
from citywatch.rule_engine.lifecycle import AlertState, apply
from citywatch.rule_engine.loader import load_paths
from citywatch.schemas.air import AirReading
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import load_registry
from tools.devstack.config import REPO_ROOT

ZONE = ZoneInfo("Asia/Shanghai")
RULE = next(
    r
    for r in load_paths([REPO_ROOT / "rules"], load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")).rules
    if r.id == "air-pm25-24h-grade2"
)
CTX = AirContext(zone=ZONE, district="wj", lateness=Lateness(dt.timedelta(hours=6)))


def pm25_24h_transitions(
    hourly: Sequence[float], start: dt.datetime = dt.datetime(2025, 1, 1, tzinfo=ZONE), station: str = "wj-songling"
) -> tuple[list[str], list[int]]:
    """The alert's transitions, and the sample counts of the 24 h means the rule judged, for the station's hourly
    values of the hours from `start` on."""
    engine = RuleEngine([RULE], started=start)
    station_state, alert = None, None
    transitions: list[str] = []
    judged: list[int] = []
    for hour, value in enumerate(hourly):
        end = start + dt.timedelta(hours=hour + 1)
        result = process_station(station_state, AirReading(station=station, observed_at=end, pm25=value), CTX)
        station_state = result.state
        for rec in result.records:
            record = IndicatorRecord.model_validate(rec)
            for evaluation in engine.on_record(record, received_at=end):
                judged.append(record.samples)
                alert = alert or AlertState(evaluation.fingerprint)
                step = apply(alert, evaluation.outcome, record.observed_at.timestamp())
                alert = step.state
                if step.transition is not None:
                    transitions.append(step.transition.status.value)
    return transitions, judged
