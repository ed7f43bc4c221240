"""The worker's Prometheus metrics. Names follow docs/architecture.md: citywatch_<feed>_<quantity>_<unit>,
one gauge per catalogue metric with labels `site`, `window` and `standard` (rendered by `IndicatorExposition`)."""

from __future__ import annotations

import datetime as dt
from array import array
from functools import cache, lru_cache
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from citywatch.holiday_calendar import HolidayCalendar
from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.indicators.records import day_end
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import Registry

READINGS = Counter(
    "citywatch_worker_readings_total",
    "Readings processed by the worker, by feed and outcome (new, correction, duplicate, ignored, and the refusals of "
    "citywatch_worker_dead_letters_total)",
    ["feed", "outcome"],
)
DEAD_LETTERS = Counter(
    "citywatch_worker_dead_letters_total",
    "Records the worker dead-lettered, by feed and outcome (invalid, forbidden, conflict, stale-revision, too-late, "
    "wrong-partition, processing-error); the publishing department finds them in /v1/rejections",
    ["feed", "outcome"],
)
BATCH_RETRIES = Counter(
    "citywatch_worker_batch_retries_total",
    "Batches tried again because the broker did not take their outputs (a leader election, too few in-sync "
    "replicas), by stage (feed, district; staleness and fleet: the timers' outputs): each retry keeps the partition's "
    "order (streams/batch_retry.py)",
    ["stage"],
)
RULE_ERRORS = Counter(
    "citywatch_worker_rule_errors_total", "Indicator records whose rule evaluation raised (a bug; see the worker log)"
)
EVALUATIONS = Counter(
    "citywatch_worker_rule_evaluations_total", "Rule evaluations published, by rule and outcome", ["rule", "outcome"]
)
RULES_LOADED = Gauge("citywatch_worker_rules_loaded", "Rules the worker evaluates now (after the latest reload)")
RULE_RELOADS = Counter(
    "citywatch_worker_rule_reloads_total",
    "Rule reloads (SIGHUP, POST /rules/reload, a rule file changed), by outcome: applied (the rule set changed), "
    "unchanged, failed (problems in the files: the running rules were kept)",
    ["outcome"],
)
LATENCY = Histogram(
    "citywatch_worker_processing_latency_seconds",
    "From the reading's receipt (its Kafka timestamp: when the gateway or a direct publisher sent it) to its "
    "indicators being published; includes the time it waited in Kafka while the worker caught up",
    ["feed"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
EVENT_TIME_LAG = Histogram(
    "citywatch_worker_event_time_lag_seconds",
    "From the reading's observation time (its event time) to its indicators being published: how late the data "
    "is when it counts; backfilled history lands in the top buckets",
    ["feed"],
    buckets=(60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400),
)


# The labelled children, looked up once per label set: `.labels()` takes a lock and builds its key on every call,
# and the worker counts every reading and every evaluation.
@cache
def readings(feed: str, outcome: str) -> Any:
    return READINGS.labels(feed=feed, outcome=outcome)


@cache
def dead_letters(feed: str, outcome: str) -> Any:
    return DEAD_LETTERS.labels(feed=feed, outcome=outcome)


@cache
def evaluations(rule: str, outcome: str) -> Any:
    return EVALUATIONS.labels(rule=rule, outcome=outcome)


@cache
def latency(feed: str) -> Any:
    return LATENCY.labels(feed=feed)


@cache
def event_time_lag(feed: str) -> Any:
    return EVENT_TIME_LAG.labels(feed=feed)


CONSUMER_LAG = Gauge(
    "citywatch_worker_consumer_lag_records",
    "Records in each assigned partition not yet read by this worker (high watermark minus next offset to read)",
    ["topic", "partition"],
)


ASSIGNED = Gauge(
    "citywatch_worker_assigned_partitions", "Partitions of each topic assigned to this worker now", ["topic"]
)


def last_read_offset(consumer: Any, tp: Any) -> int | None:
    """faust's private offsets: the last one handed to a stream, else the last committed, else None."""
    last: int | None = consumer._read_offset.get(tp)
    if last is None:
        last = consumer._committed_offset.get(tp)
    return last


def observe_lag(consumer: Any) -> None:
    """Refresh the lag and assignment gauges from faust's consumer: its assignment, high watermarks and read
    offsets."""
    CONSUMER_LAG.clear()
    ASSIGNED.clear()
    assignment = consumer.assignment()
    for topic in {tp.topic for tp in assignment}:
        ASSIGNED.labels(topic=topic).set(sum(1 for tp in assignment if tp.topic == topic))
    for tp in assignment:
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        last = last_read_offset(consumer, tp)
        if last is None:
            continue
        position = last + 1
        CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, highwater - position))


HOLIDAY_CALENDAR_KNOWN_UNTIL = Gauge(
    "citywatch_holiday_calendar_known_until_timestamp_seconds",
    "End (local midnight) of the last day the holiday calendar (chinesecalendar and the registry) knows, in the run "
    "of known years from today: bus days after it are day type unknown (alert HolidayCalendarRunsOut)",
)


def export_holiday_calendar(calendar: HolidayCalendar, today: dt.date, zone: dt.tzinfo) -> None:
    HOLIDAY_CALENDAR_KNOWN_UNTIL.set(day_end(calendar.known_until(today), zone).timestamp())


FAUST_PREFIX = "citywatch_worker_faust"
"""Name prefix of faust's own sensor metrics in the worker."""

SITE_INFO_LABELS = ("site", "feed", "department", "name", "lat", "lon")
# The registry does not change while a worker runs, so its info metric is rendered once, not at every scrape:
# prometheus_client took 1.4 s per scrape for 100,000 sites, and scrapes piling up behind each other starved the
# worker (the 100k-site memory benchmark never saw it answer).
_SITE_INFO_REGISTRY = CollectorRegistry(auto_describe=True)
SITE_INFO = Gauge(
    "citywatch_site_info",
    "One series per registry site (value 1): its feed, department, Chinese and English name and coordinates",
    list(SITE_INFO_LABELS),
    registry=_SITE_INFO_REGISTRY,
)
_site_info_text = b""


def site_display_name(name_zh: str, name_en: str) -> str:
    return f"{name_zh} {name_en}"


def site_info_labels(registry: Registry) -> list[dict[str, str]]:
    """The label sets of `citywatch_site_info`, one per registry site: what the dashboards' department and site
    variables list, and where the station map gets its coordinates."""
    return [
        {
            "site": s.id,
            "feed": s.feed,
            "department": s.department,
            "name": site_display_name(s.name_zh, s.name_en),
            "lat": f"{s.lat:.6f}",
            "lon": f"{s.lon:.6f}",
        }
        for s in registry.all_sites()
    ]


def export_site_info(registry: Registry) -> None:
    global _site_info_text
    for labels in site_info_labels(registry):
        SITE_INFO.labels(**labels).set(1)
    _site_info_text = generate_latest(_SITE_INFO_REGISTRY)
    SITE_INFO.clear()  # the text is what is served: a gauge child per site would stay in memory for nothing


def site_info_text() -> bytes:
    """`citywatch_site_info` as Prometheus text, rendered when the registry was exported."""
    return _site_info_text


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@lru_cache(maxsize=1 << 14)
def _series_labels(site: str, window: str, standard: str | None) -> str:
    """`{site="…",window="…",standard="…"}`: the same for every value of a series, so escaped once."""
    return f'{{site="{_escape(site)}",window="{_escape(window)}",standard="{_escape(standard or "")}"}}'


class _Column:
    """One (metric, window)'s series, by site number: the rendered line (after the metric's name) and the event time
    of its value. Two flat arrays instead of a dict entry, a tuple and a float per series: ~16 bytes a series beside
    its line, against ~230 (at 100,000 sites × 17 series, the exposition was most of a worker's memory; issue 18
    item 5)."""

    __slots__ = ("at", "lines")

    def __init__(self) -> None:
        self.lines: list[str | None] = []
        self.at = array("d")

    def grow(self, size: int) -> None:
        more = max(size, 2 * len(self.lines)) - len(self.lines)  # doubling: amortised constant per new site
        self.lines.extend([None] * more)
        self.at.extend([0.0] * more)


class IndicatorExposition:
    """The newest value (by event time) of every catalogue indicator per site and window, kept as ready-rendered
    Prometheus text lines.

    prometheus_client renders each sample at scrape time (about 10 µs each): 10k sites × ~20 indicators would take
    seconds per scrape. Here a record costs one line format when it is observed and a scrape only joins strings.
    One series per (metric, site, window): the `standard` label moves with the value instead of leaving a stale
    series behind when a new standard takes effect.
    """

    def __init__(self) -> None:
        self._sites: dict[str, int] = {}  # site -> its number in every column
        self._series: dict[str, dict[str, _Column]] = {}  # metric -> window -> column
        self._headers: dict[str, str] = {}
        for indicator in sorted(CATALOGUE.values(), key=lambda i: i.id):
            self._add(indicator)

    def _add(self, indicator: Indicator) -> dict[str, _Column]:
        """The metric's columns, with its HELP and TYPE lines (an indicator a feed added after the start gets them
        at its first value)."""
        if indicator.metric not in self._headers:
            quantity = indicator.metric.split("_", 2)[-1]
            help_text = f"Latest {quantity} per site and window ({indicator.unit}); e.g. {indicator.description}"
            self._headers[indicator.metric] = (
                f"# HELP {indicator.metric} {_escape(help_text)}\n# TYPE {indicator.metric} gauge\n"
            )
            self._series[indicator.metric] = {}
        return self._series[indicator.metric]

    @property
    def metrics(self) -> list[str]:
        return list(self._headers)

    def observe(self, record: IndicatorRecord) -> None:
        indicator = CATALOGUE[record.indicator]
        series = self._series.get(indicator.metric) or self._add(indicator)
        column = series.get(record.window)
        if column is None:
            column = series[record.window] = _Column()
        site = self._sites.setdefault(record.site, len(self._sites))
        if site >= len(column.lines):
            column.grow(site + 1)
        at = record.observed_at.timestamp()
        if column.lines[site] is not None and column.at[site] > at:
            return  # a revision of an older bucket: the gauge shows the newest
        column.at[site] = at
        # Without the metric's name, which `render` puts in front: a third of each line, ~0.5 KB per site.
        column.lines[site] = f"{_series_labels(record.site, record.window, record.standard)} {float(record.value)!r}\n"

    def render(self) -> str:
        """Prometheus text of every indicator series. Safe to call from another thread: `list()` of a dict or a
        list is taken under the GIL in one step."""
        parts: list[str] = []
        for metric, header in self._headers.items():
            lines = [
                metric + line for column in list(self._series[metric].values()) for line in list(column.lines) if line
            ]
            if lines:
                parts.append(header)
                parts.extend(lines)
        return "".join(parts)


INDICATORS = IndicatorExposition()


def observe_indicator(record: IndicatorRecord) -> None:
    INDICATORS.observe(record)
