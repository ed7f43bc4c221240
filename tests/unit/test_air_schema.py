from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from citywatch.schemas.air import AirReading
from citywatch.schemas.dead_letter import field_errors


def test_timezone_is_required_and_the_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        AirReading.model_validate({"station": "s1", "observed_at": "2025-01-01T08:00:00", "pm25": 10})
    errors = field_errors(info.value)
    assert [e.field for e in errors] == ["observed_at"]
    assert "timezone" in errors[0].reason


@pytest.mark.parametrize(
    ("field", "value"), [("pm25", -1), ("pm25", "nan"), ("pm25_unit", "mg/m³"), ("station", ""), ("revision", -1)]
)
def test_bad_values_are_named(field: str, value: object) -> None:
    record = {"station": "s1", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 10, field: value}
    with pytest.raises(ValidationError) as info:
        AirReading.model_validate(record)
    assert field in {e.field for e in field_errors(info.value)}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        AirReading.model_validate({"station": "s1", "observed_at": "2025-01-01T08:00:00+08:00", "pm25": 10, "pm2_5": 3})
    assert [e.field for e in field_errors(info.value)] == ["pm2_5"]


def test_event_id_is_derived_from_station_and_instant_not_the_offset() -> None:
    a = AirReading(station="s1", observed_at=datetime(2025, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))), pm25=1)
    b = AirReading(station="s1", observed_at=datetime(2025, 1, 1, 0, tzinfo=UTC), pm25=2)
    c = AirReading(station="s2", observed_at=datetime(2025, 1, 1, 0, tzinfo=UTC), pm25=2)
    assert a.event_id == b.event_id != c.event_id
    assert AirReading(station="s1", observed_at=a.observed_at, pm25=1, event_id="mine").event_id == "mine"
