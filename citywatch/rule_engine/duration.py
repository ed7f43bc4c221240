"""Durations in rule files, spelled like Prometheus's: "90s", "15m", "1h30m", "2d", "1w" (or 0)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w)")
PATTERN = r"^(0|([0-9]+(ms|s|m|h|d|w))+)$"


def parse_duration(value: Any) -> timedelta:
    """A duration from "1h30m", a number of seconds, or a timedelta; ValueError naming the text otherwise."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 15m, 1h or 2d, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return timedelta(seconds=value)
    if not isinstance(value, str) or not re.fullmatch(PATTERN, value.strip()):
        raise ValueError(f"expected a duration like 15m, 1h or 2d, got {value!r}")
    text = value.strip()
    if text == "0":
        return timedelta(0)
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """The shortest spelling of a duration, e.g. 5400 s -> "1h30m"."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PATTERN},
                {"type": "integer", "minimum": 0, "description": "seconds"},
            ],
            "description": "A duration: 90s, 15m, 1h30m, 2d, 1w, or a number of seconds",
        }
    ),
]
