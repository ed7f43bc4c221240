"""Replay recorded readings through the ingest gateway: history loads (e.g. 2021–2025) and demos.

Input: a CSV of one air station (an observed-at column and a value column, e.g. `observed_at,pm25`; other pollutant
columns pm10/o3/no2/so2/co are sent with their standard units), or JSON lines of full records of any feed. Times
without a UTC offset are read in the deployment's time zone. Records are posted in event-time order, in batches,
with the key of the department that owns each record's site; `speed=None` posts as fast as the gateway accepts,
`speed=N` spaces records by their event-time difference / N. On a 422 the gateway publishes nothing of the batch
and dead-letters the bad records: the rest of the batch is posted again, so one bad row costs only itself.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from citywatch.feeds import FEEDS, SITE_FIELDS
from citywatch.schemas.air import AIR_UNITS, TimeConvention, restamped
from services.simulator.run import Poster

TIME_COLUMNS = ("observed_at", "observed-at", "observedat", "dateobserved", "time", "timestamp", "datetime", "date")
VALUE_COLUMNS = ("pm25", "pm2.5", "pm2_5", "value")
SITE_COLUMNS = ("station", "site")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "—"})

Row = tuple[int, dict[str, Any]]  # (line number in the file, record)


class ReplayInputError(ValueError):
    """The file cannot be read as the feed's records (names the line and the problem)."""


@dataclass
class Loaded:
    rows: list[Row]
    skipped: int = 0  # CSV rows without a value (gaps in the record)


@dataclass
class Summary:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    unsent: int = 0  # of the rejected: rows no API key could send
    batches: int = 0
    reasons: list[str] = field(default_factory=list)  # the first rejections, "line N: field: reason"

    def add_reason(self, text: str) -> None:
        if len(self.reasons) < 10:
            self.reasons.append(text)


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def parse_time(text: str, zone: tzinfo, averaging_period: str = "1h") -> datetime:
    """An ISO 8601 time (a naive one is local time in `zone`); a bare date of a daily mean ends at the next midnight."""
    text = text.strip()
    if len(text) == 10 and averaging_period == "24h":
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def period_fields(
    text: str, zone: tzinfo, averaging_period: str = "1h", convention: TimeConvention = "hour-ending"
) -> dict[str, str]:
    """The time fields of an air record from one timestamp cell: the period's end (`observed_at`) for hour-ending
    data, its start (`observed_from`) for hour-beginning data. A bare date of a daily mean is that day whatever the
    convention."""
    end = parse_time(text, zone, averaging_period)
    if convention == "hour-ending" or len(text.strip()) == 10:
        return {"observed_at": end.isoformat()}
    return {"observed_from": end.isoformat()}  # the cell names the start


def read_air_csv(
    path: Path,
    site: str | None,
    zone: tzinfo,
    averaging_period: str = "1h",
    convention: TimeConvention = "hour-ending",
) -> Loaded:
    """Air records from a CSV with an observed-at column and a PM2.5 value column, its times in `convention`."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {_norm(c): c for c in reader.fieldnames or []}
        time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
        value_col = next((columns[c] for c in VALUE_COLUMNS if c in columns), None)
        site_col = next((columns[c] for c in SITE_COLUMNS if c in columns), None)
        if time_col is None or value_col is None:
            raise ReplayInputError(
                f"{path}: needs an observed-at column ({', '.join(TIME_COLUMNS)}) and a value column "
                f"({', '.join(VALUE_COLUMNS)}); found {', '.join(reader.fieldnames or []) or 'no header'}"
            )
        if site is None and site_col is None:
            raise ReplayInputError(f"{path}: no station column; name the station with --site")
        others = {p: columns[p] for p in AIR_UNITS if p != "pm25" and p in columns}
        loaded = Loaded([])
        for line, row in enumerate(reader, start=2):
            raw = (row.get(value_col) or "").strip()
            if raw.lower() in MISSING:
                loaded.skipped += 1
                continue
            try:
                times = period_fields(row.get(time_col) or "", zone, averaging_period, convention)
            except ValueError as exc:
                raise ReplayInputError(f"{path}:{line}: {time_col}: {exc}") from None
            record: dict[str, Any] = {
                "station": site or (row.get(site_col or "") or "").strip(),
                **times,
                "averaging_period": averaging_period,
                "pm25": _number(raw),
            }
            for pollutant, column in others.items():
                value = (row.get(column) or "").strip()
                if value.lower() not in MISSING:
                    record[pollutant] = _number(value)
                    record[f"{pollutant}_unit"] = AIR_UNITS[pollutant]
            loaded.rows.append((line, record))
    return loaded


def _number(text: str) -> float | str:
    """A number when it is one; otherwise the text itself, for the gateway to refuse with the field named."""
    try:
        return float(text)
    except ValueError:
        return text


def read_jsonl(path: Path, feed: str, site: str | None, convention: TimeConvention = "hour-ending") -> Loaded:
    """Full records of a feed, one JSON object a line (blank lines ignored); `site` fills a missing site field; air
    records' `observed_at` is read in `convention`."""
    site_field = SITE_FIELDS[feed]
    loaded = Loaded([])
    with path.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ReplayInputError(f"{path}:{line}: not JSON: {exc}") from None
            if not isinstance(record, dict):
                raise ReplayInputError(f"{path}:{line}: expected a JSON object, got {type(record).__name__}")
            if site is not None:
                record.setdefault(site_field, site)
            if feed == "air":
                record = restamped(record, convention)
            loaded.rows.append((line, record))
    return loaded


def load(
    path: Path,
    feed: str,
    site: str | None,
    zone: tzinfo,
    averaging_period: str = "1h",
    convention: TimeConvention = "hour-ending",
) -> Loaded:
    """Read a replay file: CSV (air only) or JSON lines (`.jsonl`, `.ndjson`, `.json`)."""
    if feed not in FEEDS:
        raise ReplayInputError(f"unknown feed {feed!r}; known: {', '.join(FEEDS)}")
    if convention != "hour-ending" and feed != "air":
        raise ReplayInputError(
            f"--time-convention applies to air readings (averages over a period); {feed} records state their own "
            "times (an interval's start and end, a sampling instant, a day)"
        )
    if path.suffix.lower() == ".csv":
        if feed != "air":
            raise ReplayInputError("CSV replay is for the air feed; give other feeds as JSON lines of full records")
        return read_air_csv(path, site, zone, averaging_period, convention)
    return read_jsonl(path, feed, site, convention)


def event_time(feed: str, record: dict[str, Any], zone: tzinfo) -> datetime | None:
    """The record's event time for ordering and pacing; None when it has none readable (the gateway will say)."""
    for name in FEEDS[feed].time_fields:
        value = record.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    return None


def ordered(feed: str, rows: list[Row], zone: tzinfo) -> list[tuple[Row, datetime | None]]:
    """Rows in event-time order; in the file's order when some row has no readable time."""
    timed = [(row, event_time(feed, row[1], zone)) for row in rows]
    if all(t is not None for _, t in timed):
        timed.sort(key=lambda item: item[1] or datetime.min)  # stable: equal times keep the file's order
    return timed


def _chunks(
    timed: list[tuple[Row, datetime | None]],
    key_of: Callable[[dict[str, Any]], str | None],
    batch_size: int,
    due: Callable[[datetime | None], float],
    elapsed: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[tuple[str | None, list[Row]]]:
    """Consecutive rows with the same key, at most batch_size, each posted once its due time has come."""
    i = 0
    while i < len(timed):
        wait = due(timed[i][1]) - elapsed()
        if wait > 0:
            sleep(wait)
        key = key_of(timed[i][0][1])
        j = i
        now = elapsed()
        while j < len(timed) and j - i < batch_size and key_of(timed[j][0][1]) == key and due(timed[j][1]) <= now:
            j += 1
        j = max(j, i + 1)
        yield key, [row for row, _ in timed[i:j]]
        i = j


def replay(
    feed: str,
    rows: list[Row],
    poster: Poster,
    key_of: Callable[[dict[str, Any]], str | None],
    zone: tzinfo,
    *,
    speed: float | None = None,
    batch_size: int = 500,
    advance: Callable[[int], None] = lambda n: None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    receipt: str | None = None,
    history: bool = False,
) -> Summary:
    """Post the rows through the gateway (to its history endpoint for a backfill), under `receipt`; `key_of` gives
    a record's API key (None: no key, counted rejected)."""
    timed = ordered(feed, rows, zone)
    first = next((t for _, t in timed if t is not None), None)
    real_start = monotonic()

    def due(t: datetime | None) -> float:
        if speed is None or t is None or first is None:
            return 0.0
        return (t - first).total_seconds() / speed

    summary = Summary()
    for key, chunk in _chunks(timed, key_of, batch_size, due, lambda: monotonic() - real_start, sleep):
        if key is None:
            summary.rejected += len(chunk)
            summary.unsent += len(chunk)
            for line, record in chunk:
                summary.add_reason(f"line {line}: no API key for the department of {record.get(SITE_FIELDS[feed])!r}")
            advance(len(chunk))
            continue
        _post_chunk(feed, key, chunk, poster, summary, receipt, history)
        advance(len(chunk))
    return summary


def _post_chunk(
    feed: str, key: str, chunk: list[Row], poster: Poster, summary: Summary, receipt: str | None, history: bool
) -> None:
    pending = chunk
    while pending:
        summary.batches += 1
        outcome = poster.post(feed, key, [record for _, record in pending], receipt, history)
        if outcome.status == 202:
            summary.accepted += outcome.accepted
            summary.duplicates += outcome.duplicates
            return
        bad = {e.get("index") for e in outcome.errors if isinstance(e.get("index"), int)}
        # 422 (invalid) and 409 (conflicting or stale repeats) name the records: post the others again.
        whole = outcome.status not in (409, 422) or not bad or any(e.get("field") == "(body)" for e in outcome.errors)
        for error in outcome.errors:
            index = error.get("index")
            line = pending[index][0] if isinstance(index, int) and 0 <= index < len(pending) else "?"
            summary.add_reason(f"line {line}: {error.get('field')}: {error.get('reason')}")
        if whole:
            if not outcome.errors:
                summary.add_reason(f"lines {pending[0][0]}–{pending[-1][0]}: {outcome.status} {outcome.detail}")
            summary.rejected += len(pending)
            return
        summary.rejected += len(bad)
        pending = [row for index, row in enumerate(pending) if index not in bad]
