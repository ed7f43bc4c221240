"""The pure half of `citywatch publish`: read a CSV or JSON-lines file into rows, validate each row into a record.

No Kafka here. A row is validated exactly like the gateway validates a request's record: the feed's schema
(`parse_record`), then the gateway's admission (`citywatch.intake`: the department publishes the feed and owns the
site, the registry's vehicles and waste kinds, bounded clocks). A row that fails becomes a `Rejection` naming its
line, each field and the reason; nothing is silently dropped or converted.

CSV: the header row names the fields; an empty cell is an absent field; cells of non-text fields (numbers, integers,
objects such as `quality_flags`) are read as JSON (`12.5`, `2`, `{"pm25": "M"}`), every other cell as text. A UTF-8
byte-order mark (as Excel writes) is ignored. JSON lines: one JSON object per line, blank lines ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from citywatch.feeds import FEEDS, UnknownFeedError, parse_record
from citywatch.intake import ClockBounds, admission
from citywatch.schemas.air import TimeConvention, restamped
from citywatch.schemas.dead_letter import FieldError, field_errors
from citywatch.schemas.feed_record import FeedRecord
from citywatch.settings import CommonSettings
from citywatch.site_registry import Registry

FileFormat = Literal["csv", "jsonl"]
FORMATS: dict[str, FileFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
REJECTED_SUFFIX = ".rejected.jsonl"


class InputError(ValueError):
    """The file (or the command line) cannot be used at all: unknown feed or format, unreadable file, bad header."""


@dataclass(frozen=True)
class Row:
    """One record as read from the file: its fields, or why it could not even be read as fields."""

    line: int  # 1-based line of the file where the record starts
    payload: dict[str, Any] | None  # the fields, when the line could be read as an object
    raw: str  # the line as written
    problems: tuple[FieldError, ...] = ()  # reasons it could not be read (then payload is None or incomplete)


@dataclass(frozen=True)
class Rejection:
    line: int
    errors: list[FieldError]
    record: dict[str, Any] | str  # the fields as read, or the raw line when it could not be read

    def to_json(self) -> str:
        errors = [e.model_dump() for e in self.errors]
        return json.dumps({"line": self.line, "errors": errors, "record": self.record}, ensure_ascii=False)


@dataclass
class Validation:
    """The outcome of validating a file: the records to publish (with their lines) and the rejections."""

    accepted: list[tuple[int, FeedRecord]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def records(self) -> list[FeedRecord]:
        return [record for _, record in self.accepted]


def file_format(path: Path, explicit: str | None = None) -> FileFormat:
    """The format named on the command line, or the one the file's extension implies."""
    if explicit is not None:
        if explicit not in ("csv", "jsonl"):
            raise InputError(f"unknown format {explicit!r}; use csv or jsonl")
        return "csv" if explicit == "csv" else "jsonl"
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(FORMATS)
        raise InputError(
            f"cannot tell the format of {path.name!r} from its extension (known: {known}); pass --format csv|jsonl"
        ) from None


def check_feed(feed: str) -> None:
    if feed not in FEEDS:
        raise InputError(UnknownFeedError(feed).args[0])


def check_department(registry: Registry, department: str, feed: str) -> None:
    """A department the registry does not know, or one that does not publish the feed, is a usage error."""
    try:
        dept = registry.department(department)
    except KeyError as exc:
        raise InputError(exc.args[0]) from None
    if feed not in dept.feeds:
        raise InputError(
            f"department {department!r} does not publish the {feed} feed (the registry lists: {', '.join(dept.feeds)})"
        )


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); InputError when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None


def read_rows(text: str, fmt: FileFormat, feed: str) -> list[Row]:
    """Every record of a file's text as a Row (unreadable lines included, with the reason)."""
    return list(_csv_rows(text, feed) if fmt == "csv" else _jsonl_rows(text))


def _jsonl_rows(text: str) -> Iterator[Row]:
    # Only "\n" ends a line: JSON text may hold U+2028 and friends, which str.splitlines would split on.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(number, None, line, (FieldError(field="(line)", reason=f"not valid JSON: {exc}"),))
            continue
        if not isinstance(value, dict):
            reason = f"a line must be one JSON object, got {type(value).__name__}"
            yield Row(number, None, line, (FieldError(field="(line)", reason=reason),))
            continue
        yield Row(number, value, line)


def _csv_rows(text: str, feed: str) -> Iterator[Row]:
    lines = io.StringIO(text, newline="").readlines()  # the lines exactly as the csv reader counts them
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"the header row is not valid CSV: {exc}") from None
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise InputError(f"the header row has an empty column name (column {names.index('') + 1})")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"the header row names a column more than once: {', '.join(duplicates)}")
    json_fields = _json_typed_fields(feed)
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raw = "".join(lines[start - 1 : reader.line_num])
            yield Row(start, None, raw, (FieldError(field="(line)", reason=f"not valid CSV: {exc}"),))
            start = reader.line_num + 1
            continue
        raw = "".join(lines[start - 1 : reader.line_num]).rstrip("\r\n")
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        payload: dict[str, Any] = {}
        for name, cell in zip(names, cells, strict=False):
            value = cell.strip()
            if value:
                payload[name] = _cell_value(value) if name in json_fields else value
        problems: tuple[FieldError, ...] = ()
        if len(cells) > len(names):
            extra = len(cells) - len(names)
            reason = f"{extra} more cell(s) than the header has columns ({len(names)})"
            problems = (FieldError(field="(line)", reason=reason),)
        yield Row(line, payload, raw, problems)


def _cell_value(cell: str) -> Any:
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        return cell  # the schema names the field and says what it expected


@cache
def _json_typed_fields(feed: str) -> frozenset[str]:
    """The fields whose JSON Schema admits no string: their CSV cells are JSON values (numbers, objects)."""
    properties: Mapping[str, Any] = FEEDS[feed].record.model_json_schema().get("properties", {})
    return frozenset(name for name, schema in properties.items() if "string" not in _types(schema))


def _types(schema: Mapping[str, Any]) -> set[str]:
    kinds = schema.get("type")
    found = {kinds} if isinstance(kinds, str) else set(kinds or ())
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, ()):
            found |= _types(member)
    return found


def validate_row(
    row: Row,
    feed: str,
    department: str,
    registry: Registry,
    bounds: ClockBounds | None = None,
    received_at: dt.datetime | None = None,
    convention: TimeConvention = "hour-ending",
) -> FeedRecord | Rejection:
    """The record a row holds, or its rejection with every field and reason: the gateway's admission (schema,
    registry, bounded clocks: default bounds from the settings, judged now), air times read in `convention`."""
    record_view: dict[str, Any] | str = row.payload if row.payload is not None else row.raw
    if row.payload is None or row.problems:
        return Rejection(row.line, list(row.problems), record_view)
    payload = restamped(row.payload, convention) if feed == "air" else row.payload
    try:
        record = parse_record(feed, payload)
    except ValidationError as exc:
        return Rejection(row.line, field_errors(exc), record_view)
    refusal = admission(
        registry,
        department,
        feed,
        record,
        bounds or CommonSettings().clock_bounds(),
        received_at or dt.datetime.now(dt.UTC),
    )
    if refusal is not None:
        return Rejection(row.line, list(refusal.errors), record_view)
    return record


def validate_rows(
    rows: Iterable[Row],
    feed: str,
    department: str,
    registry: Registry,
    convention: TimeConvention = "hour-ending",
) -> Validation:
    result = Validation()
    bounds = CommonSettings().clock_bounds()
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        outcome = validate_row(row, feed, department, registry, bounds, now, convention)
        if isinstance(outcome, Rejection):
            result.rejected.append(outcome)
        else:
            result.accepted.append((row.line, outcome))
    return result


def rejections_path(path: Path) -> Path:
    """Where the rejections of a file go: beside it, `<name>.rejected.jsonl`."""
    return path.with_name(path.name + REJECTED_SUFFIX)


def write_rejections(path: Path, rejections: Sequence[Rejection]) -> Path | None:
    """Write the rejections beside the input (one JSON object a line); with none, remove a stale file."""
    target = rejections_path(path)
    if not rejections:
        target.unlink(missing_ok=True)
        return None
    text = "".join(r.to_json() + "\n" for r in rejections)
    target.write_text(text, encoding="utf-8")
    return target
