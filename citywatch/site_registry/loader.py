"""Load the registry YAML, reporting every problem with its file, line and path.

Two passes, both always run so one load lists everything wrong: the schema (pydantic: types, classes, ranges)
and the cross-references (duplicate ids, unknown departments, a department owning a site of a feed it does
not publish, coordinates outside the registry's bounds, vehicles on unknown routes, calendar mistakes). The
second pass reads the raw YAML defensively, so it still runs when the first found errors.
"""

from __future__ import annotations

import datetime as dt
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, create_model

from citywatch.site_registry.model import Registry, Site

SAFE_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML was built with it."""

Loc = tuple[str | int, ...]


def site_lists() -> dict[str, str]:
    """Registry lists of sites, with the feed whose records name them (each feed's description says its list)."""
    from citywatch.feeds import FEEDS  # the feeds are described above the registry (their sites are its models)

    return {feed.sites: name for name, feed in FEEDS.items()}


def registry_model() -> type[Registry]:
    """The registry's model for the feeds in the catalogue: `Registry`, plus a list for each feed it does not have
    a field for (a feed added to the catalogue brings its sites' list with it)."""
    from citywatch.feeds import FEEDS

    added = tuple(feed for feed in FEEDS.values() if feed.sites not in Registry.model_fields)
    return _with_lists(tuple((feed.sites, feed.site) for feed in added)) if added else Registry


@lru_cache(maxsize=8)
def _with_lists(lists: tuple[tuple[str, type[Site]], ...]) -> type[Registry]:
    fields: dict[str, Any] = {name: (list[site], Field(default_factory=list)) for name, site in lists}  # type: ignore[valid-type]
    return create_model("Registry", __base__=Registry, **fields)


@dataclass(frozen=True)
class RegistryProblem:
    file: str
    line: int | None  # 1-based, when the position is known
    path: str  # e.g. sections[3].target_class
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RegistryError(ValueError):
    def __init__(self, problems: list[RegistryProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_registry(path: Path | str) -> Registry:
    """The registry in a YAML file; raises RegistryError listing every problem found."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RegistryError([RegistryProblem(str(file), line, "", f"YAML syntax: {exc}")]) from None
    try:
        return registry_from_data(data, source=str(file))
    except RegistryError:
        # Only now the node tree, for the problems' line numbers: kept for every load, it doubled the memory a
        # worker holds after reading a registry of 100,000 sites.
        return registry_from_data(data, str(file), yaml.compose(text, SAFE_LOADER))


IN_CHILD_ABOVE_BYTES = 1_000_000
"""A registry file larger than this (~5,000 sites) is read by `load_registry_compact` in a child process."""


def load_registry_compact(path: Path | str) -> Registry:
    """`load_registry` for a long-running process. A large registry file is parsed and validated in a child
    process and handed back pickled: the YAML data and the validation's garbage never touch this process's heap,
    where freed but fragmented memory stays resident (a worker held 5.6 KB per site after reading a registry of
    20,000 sites in process, 1.8 KB this way)."""
    file = Path(path)
    if file.stat().st_size <= IN_CHILD_ABOVE_BYTES:
        return load_registry(file)
    child = subprocess.run(
        [sys.executable, "-c", "from citywatch.site_registry.loader import child_main; child_main()", str(file)],
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(
            f"reading the registry {file} in a child process failed ({child.returncode}): "
            f"{child.stderr.decode(errors='replace')[-2000:]}"
        )
    kind, payload = pickle.loads(child.stdout)
    if kind == "problems":
        raise RegistryError(payload)
    registry: Registry = payload
    return registry


def registry_from_data(data: Any, source: str = "<registry>", root: yaml.Node | None = None) -> Registry:
    """Validate already-parsed registry data (schema and cross-references); raises RegistryError."""
    problems: list[tuple[Loc, str]] = []
    registry: Registry | None = None
    try:
        registry = registry_model().model_validate(data)
    except ValidationError as exc:
        problems.extend((tuple(err["loc"]), err["msg"]) for err in exc.errors())
    if isinstance(data, dict):
        problems.extend(cross_check(data))
    if problems or registry is None:
        raise RegistryError(
            [RegistryProblem(source, _line_of(root, loc), _path(loc), msg) for loc, msg in _unique(problems)]
        )
    return registry


def cross_check(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Problems that span entries, read from the raw data (entries the schema rejects are skipped quietly)."""
    departments = {d.get("id"): d for _, d in _entries(data, "departments")}
    yield from _duplicates([(("departments", i, "id"), d.get("id")) for i, d in _entries(data, "departments")])

    box = _box(data.get("bounds"))
    site_ids: list[tuple[Loc, Any]] = []
    for key, feed in site_lists().items():
        for i, entry in _entries(data, key):
            site_ids.append(((key, i, "id"), entry.get("id")))
            owner = entry.get("department")
            if isinstance(owner, str):
                if owner not in departments:
                    known = ", ".join(str(d) for d in departments)
                    yield (key, i, "department"), f"unknown department {owner!r} (known: {known})"
                else:
                    feeds = departments[owner].get("feeds")
                    if isinstance(feeds, list) and feed not in feeds:
                        yield (key, i, "department"), f"department {owner!r} does not publish the {feed} feed"
            lon, lat = _float(entry.get("lon")), _float(entry.get("lat"))
            if lon is not None and lat is not None and box is not None:
                west, east, south, north = box
                # (a value that is no longitude/latitude at all is reported by the schema, once)
                if -180 <= lon <= 180 and not west <= lon <= east:
                    yield (key, i, "lon"), f"longitude {lon} is outside the registry's bounds ({west}–{east} E)"
                if -90 <= lat <= 90 and not south <= lat <= north:
                    yield (key, i, "lat"), f"latitude {lat} is outside the registry's bounds ({south}–{north} N)"
    yield from _duplicates(site_ids, what="site id")

    routes = {entry.get("id") for _, entry in _entries(data, "routes")}
    yield from _duplicates([(("fleet", i, "id"), v.get("id")) for i, v in _entries(data, "fleet")], what="vehicle id")
    for i, vehicle in _entries(data, "fleet"):
        route = vehicle.get("route")
        if isinstance(route, str) and route not in routes:
            yield ("fleet", i, "route"), f"unknown route {route!r}"

    yield from _check_calendar(data)


def _check_calendar(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    yield from _duplicates([(("calendar", i, "year"), y.get("year")) for i, y in _entries(data, "calendar")], "year")
    holidays: dict[dt.date, Loc] = {}
    for i, year in _entries(data, "calendar"):
        number = year.get("year")
        if year.get("complete") is True and not _entries(year, "holidays"):
            yield ("calendar", i, "complete"), f"{number} is marked complete (the whole schedule) but has no holidays"
        for j, holiday in _entries(year, "holidays"):
            first, last = holiday.get("first"), holiday.get("last")
            if not (isinstance(first, dt.date) and isinstance(last, dt.date)) or last < first:
                continue
            if isinstance(number, int) and number not in (first.year, last.year):
                yield ("calendar", i, "holidays", j), f"holiday {first}–{last} is not in {number}"
            for n in range((last - first).days + 1):
                day = first + dt.timedelta(days=n)
                if day in holidays:
                    yield ("calendar", i, "holidays", j), f"{day} is already a holiday ({_path(holidays[day])})"
                holidays.setdefault(day, ("calendar", i, "holidays", j))
    for i, year in _entries(data, "calendar"):
        workdays = year.get("workdays")
        for j, day in enumerate(workdays if isinstance(workdays, list) else []):
            if not isinstance(day, dt.date):
                continue
            if day.weekday() < 5:
                yield (
                    ("calendar", i, "workdays", j),
                    f"{day} is a {day:%A}: only a weekend day can be a make-up workday",
                )
            if day in holidays:
                yield ("calendar", i, "workdays", j), f"{day} is also a holiday ({_path(holidays[day])})"


def _entries(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key) if isinstance(data, dict) else None
    return [(i, e) for i, e in enumerate(items) if isinstance(e, dict)] if isinstance(items, list) else []


def _duplicates(ids: list[tuple[Loc, Any]], what: str = "id") -> Iterator[tuple[Loc, str]]:
    first: dict[Any, Loc] = {}
    for loc, value in ids:
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        if value in first:
            yield loc, f"duplicate {what} {value!r} (first at {_path(first[value])})"
        else:
            first[value] = loc


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _box(bounds: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(bounds, dict):
        return None
    west, east, south, north = (_float(bounds.get(k)) for k in ("west", "east", "south", "north"))
    if west is None or east is None or south is None or north is None:
        return None
    return west, east, south, north


def _unique(problems: list[tuple[Loc, str]]) -> list[tuple[Loc, str]]:
    seen: set[tuple[Loc, str]] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest YAML node on the path (a missing key points at its parent)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def child_main() -> None:
    """`load_registry_compact`'s child: the registry (or its problems) pickled on stdout."""
    try:
        answer: tuple[str, Any] = ("registry", load_registry(sys.argv[1]))
    except RegistryError as exc:
        answer = ("problems", exc.problems)
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
