"""A district's state as table entries of bounded size. Pure.

The district stage keeps every site's latest contribution per bucket (citywatch/indicators/district.py). As one table
value that grows with the district's sites: at ~10,000 sites Kafka refused its changelog record (over 1 MB; issue 8's
memory benchmark). So the state is stored as

- an index under `district:<district>`: the cached aggregates, the city's running sums per day, and, per stage and
  bucket, how many parts it has;
- one entry per part of a bucket, `district:<district>|<stage>|<bucket>|<k>/<n>`: the bucket's sites split by a
  stable hash of the site id into a power-of-two number `n` of parts of at most MAX_PART_SITES sites each on
  average.

Writes go parts first, index last, deletes after: whatever prefix of them a crash leaves, the index names parts that
exist and hold every site (a bucket that changes its number of parts gets new keys, so the old parts stay whole
until the index stops naming them). Sites whose newer entries were lost are applied again from the replayed input.

Only the parts holding sites a batch changed are written again (the fold copies a bucket, and replaces a site's
entry, only when it changes them, so whatever is unchanged is the very same object). A stored state of the
single-value layout (v1) is read as it is and rewritten in parts on its next change.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from citywatch.indicators.district import CityDay, DistrictState, SiteEntry, city_days, new_district_state

INDEX_VERSION = 2
MAX_PART_SITES = 1_000
"""Sites per part on average: ~150 bytes of JSON each, so a part stays near 150 KB, far below Kafka's 1 MB."""


class DistrictIndex(TypedDict):
    v: int
    agg: dict[str, dict[str, int]]
    parts: dict[str, dict[str, int]]  # stage -> bucket -> number of parts
    city: NotRequired[dict[str, CityDay]]  # the city's running sums per day (absent in indexes stored before them)


@dataclass
class Changes:
    writes: dict[str, Any] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)


def index_key(district: str) -> str:
    return f"district:{district}"


def part_key(district: str, stage: str, bucket: str, k: int, n: int) -> str:
    return f"district:{district}|{stage}|{bucket}|{k}/{n}"


def part_count(sites: int) -> int:
    n = 1
    while sites > n * MAX_PART_SITES:
        n *= 2
    return n


def part_of(site: str, parts: int) -> int:
    return zlib.crc32(site.encode()) % parts


def split_bucket(sites: Mapping[str, SiteEntry]) -> list[dict[str, SiteEntry]]:
    n = part_count(len(sites))
    parts: list[dict[str, SiteEntry]] = [{} for _ in range(n)]
    for site, entry in sites.items():
        parts[part_of(site, n)][site] = entry
    return parts


def load(district: str, get: Callable[[str], Any]) -> tuple[DistrictState | None, DistrictIndex | None]:
    """The district's state and its index, from a table's `get`; (None, None) when nothing is stored. A v1 value
    (the whole state under the index key) comes back with no index, so that `changes` writes every part."""
    stored = get(index_key(district))
    if stored is None:
        return None, None
    if "stages" in stored:
        return stored, None
    index: DistrictIndex = stored
    stages: dict[str, dict[str, dict[str, SiteEntry]]] = {}
    for stage, buckets in index["parts"].items():
        stage_buckets = stages[stage] = {}
        for bucket, n in buckets.items():
            sites: dict[str, SiteEntry] = {}
            for k in range(n):
                sites.update(get(part_key(district, stage, bucket, k, n)) or {})
            stage_buckets[bucket] = sites
    state = new_district_state()
    state["stages"] = stages
    state["agg"] = index["agg"]
    if "city" in index:
        state["city"] = index["city"]
    else:
        del state["city"]  # `city_days` computes them from the sites, once
    return state, index


def changes(
    district: str, before: DistrictState | None, index: DistrictIndex | None, after: DistrictState
) -> tuple[Changes, DistrictIndex]:
    """The table writes and deletes that turn the stored `before` (with its `index`) into `after`, and the new
    index. Without an index (nothing stored, or a v1 value) every bucket is written."""
    out = Changes()
    old_parts = index["parts"] if index is not None else {}
    old_stages = before["stages"] if before is not None and index is not None else {}
    new_parts: dict[str, dict[str, int]] = {}
    for stage, buckets in after["stages"].items():
        old_buckets = old_stages.get(stage, {})
        counts = new_parts[stage] = {}
        for bucket, sites in buckets.items():
            had = old_parts.get(stage, {}).get(bucket, 0)
            old_sites = old_buckets.get(bucket)
            if old_sites is sites and had:
                counts[bucket] = had
                continue
            split = split_bucket(sites)
            n = counts[bucket] = len(split)
            touched: Iterable[int] = range(n)
            if old_sites is not None and had == n:  # only the parts holding a site whose entry changed
                touched = {part_of(site, n) for site, entry in sites.items() if old_sites.get(site) is not entry}
                touched |= {part_of(site, n) for site in old_sites.keys() - sites.keys()}
            for k in touched:
                out.writes[part_key(district, stage, bucket, k, n)] = split[k]
            if had and had != n:
                out.deletes += [part_key(district, stage, bucket, k, had) for k in range(had)]
    for stage, counted in old_parts.items():
        for bucket, had in counted.items():
            if bucket not in new_parts.get(stage, {}):
                out.deletes += [part_key(district, stage, bucket, k, had) for k in range(had)]
    new_index = DistrictIndex(v=INDEX_VERSION, agg=after["agg"], parts=new_parts, city=city_days(after))
    if index is None or new_index != index:
        out.writes[index_key(district)] = new_index
    return out, new_index
