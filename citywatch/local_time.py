"""The deployment's one time-zone rule, for every command and API: a time given without a UTC offset is the
deployment's local time (`CITYWATCH_TIMEZONE`, Asia/Shanghai by default), whatever the host's zone; times are shown
in that zone with their offset. Pure: the caller passes the zone (`CommonSettings.zone`)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def localized(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` as an aware time: a naive one is read as local time in `zone`."""
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def shown(moment: datetime | float | None, zone: tzinfo) -> str:
    """A time for people: local, to the minute, with its offset (2026-12-05T21:10+08:00); "" for none."""
    if moment is None:
        return ""
    at = datetime.fromtimestamp(moment, UTC) if isinstance(moment, int | float) else localized(moment, zone)
    return at.astimezone(zone).isoformat(timespec="minutes")
