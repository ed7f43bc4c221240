import datetime as dt
from collections import Counter
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.schemas.indicator import IndicatorRecord
from streams.metrics import INDICATORS, IndicatorExposition
from tests.unit.conftest import catalogue_record


def test_each_indicator_has_its_own_series_within_its_metric() -> None:
    # Indicators sharing a metric must differ by window or by stage (site vs district key), or one would
    # overwrite the other's gauge.
    keys = Counter((i.metric, i.window, i.stage) for i in CATALOGUE.values())
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_catalogue_metric_has_a_gauge_and_follows_the_naming_convention() -> None:
    assert set(INDICATORS.metrics) == {i.metric for i in CATALOGUE.values()}
    assert all(name.startswith(f"citywatch_{i.feed.split('.')[0]}_") for i in CATALOGUE.values() for name in [i.metric])


def test_every_feed_has_a_processor() -> None:
    from citywatch.feeds import FEEDS
    from citywatch.settings import WorkerSettings
    from citywatch.site_registry import load_registry
    from streams.processors import feed_processors

    processors = feed_processors(load_registry("registry/wujiang-sample.yaml"), WorkerSettings())
    assert set(processors) == set(FEEDS)


def _record(indicator: str, site: str, value: float, hour: int, standard: str | None = None) -> IndicatorRecord:
    at = dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC)
    return catalogue_record(
        indicator, site, value, at, local_date=at.date(), revision=0, period=at.isoformat(), standard=standard
    )


def test_the_exposition_is_valid_prometheus_text_with_the_newest_value_per_site_and_window() -> None:
    exposition = IndicatorExposition()
    exposition.observe(_record("air.pm25.mean_24h", "wj-lili", 80.5, 10, "GB 3095-2012"))
    exposition.observe(_record("air.pm25.mean_24h", "wj-lili", 61.0, 12, "GB 3095-2026"))
    exposition.observe(_record("air.pm25.mean_24h", "wj-lili", 99.0, 11, "GB 3095-2012"))  # a late revision
    exposition.observe(_record("air.pm25.mean_24h", 'odd"site\\', 1.0, 10))
    families = {f.name: f for f in text_string_to_metric_families(exposition.render())}
    metric = CATALOGUE["air.pm25.mean_24h"].metric
    samples = {s.labels["site"]: s for s in families[metric].samples}
    assert families[metric].type == "gauge"
    assert samples["wj-lili"].value == 61.0
    assert samples["wj-lili"].labels == {"site": "wj-lili", "window": "24h", "standard": "GB 3095-2026"}
    assert samples['odd"site\\'].value == 1.0
    assert len(families) == 1, "metrics with no series yet are left out"


def test_every_site_keeps_its_own_newest_value_as_the_columns_grow() -> None:
    """Sites are numbered in the order they are first seen and each (metric, window) column grows for them: with
    sites arriving across metrics in any order, each series still shows its own newest value."""
    exposition = IndicatorExposition()
    sites = [f"wj-{i:04}" for i in range(1000)]
    for i, site in enumerate(reversed(sites)):
        exposition.observe(_record("air.pm25.mean_24h", site, float(i), 10))
    for i, site in enumerate(sites[::3]):
        exposition.observe(_record("air.pm25.1h", site, 500.0 + i, 11))
        exposition.observe(_record("air.pm25.mean_24h", site, 1000.0 + i, 9))  # older: not shown
    families = {f.name: f for f in text_string_to_metric_families(exposition.render())}
    samples = families[CATALOGUE["air.pm25.mean_24h"].metric].samples
    by_series = {(s.labels["site"], s.labels["window"]): s.value for s in samples}
    assert len(samples) == len(by_series) == 1000 + len(sites[::3])
    assert all(by_series[(site, "24h")] == float(999 - n) for n, site in enumerate(sites))
    assert all(by_series[(site, "1h")] == 500.0 + i for i, site in enumerate(sites[::3]))


def test_the_site_registry_is_exposed_once_per_site_from_text_rendered_at_export() -> None:
    from citywatch.site_registry import load_registry
    from streams.metrics import export_site_info, site_info_labels, site_info_text

    registry = load_registry("registry/wujiang-sample.yaml")
    export_site_info(registry)
    families = list(text_string_to_metric_families(site_info_text().decode()))
    assert [f.name for f in families] == ["citywatch_site_info"]
    exposed = sorted(tuple(sorted(s.labels.items())) for s in families[0].samples if s.value == 1)
    assert exposed == sorted(tuple(sorted(labels.items())) for labels in site_info_labels(registry))


def test_a_scrape_may_ask_for_named_metrics_only() -> None:
    from citywatch.site_registry import load_registry
    from streams import metrics
    from streams.app import _exposition

    metrics.export_site_info(load_registry("registry/wujiang-sample.yaml"))
    metrics.READINGS.labels(feed="air", outcome="new").inc()
    text = _exposition(frozenset({"citywatch_worker_readings_total", "process_resident_memory_bytes"})).decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == {"citywatch_worker_readings", "process_resident_memory_bytes"}
    everything = {f.name for f in text_string_to_metric_families(_exposition().decode())}
    assert {"citywatch_worker_readings", "process_resident_memory_bytes", "citywatch_site_info"} <= everything


def test_the_holiday_calendar_gauge_is_the_end_of_its_last_known_day() -> None:
    """With chinesecalendar alone the calendar ends with its last year (1.11.0: 2026-12-31, so 2027-01-01 00:00
    local time); a year the registry adds from the State Council's notice moves it. HolidayCalendarRunsOut alerts
    on it."""
    from zoneinfo import ZoneInfo

    import chinese_calendar

    from citywatch.site_registry import registry_from_data
    from streams import metrics
    from streams.app import _exposition

    zone = ZoneInfo("Asia/Shanghai")
    last = max(chinese_calendar.holidays).year
    today = dt.date(last, 12, 5)
    name = "citywatch_holiday_calendar_known_until_timestamp_seconds"

    def exported() -> float:
        (family,) = [f for f in text_string_to_metric_families(_exposition(frozenset({name})).decode())]
        (sample,) = family.samples
        return sample.value

    # the sample registry without its own calendar entries (the runbook adds next year's notice to it)
    raw = yaml.safe_load(Path("registry/wujiang-sample.yaml").read_text(encoding="utf-8"))
    metrics.export_holiday_calendar(registry_from_data({**raw, "calendar": []}).holiday_calendar, today, zone)
    assert exported() == dt.datetime(last + 1, 1, 1, tzinfo=zone).timestamp()

    raw["calendar"] = [
        {
            "year": last + 1,
            "source": "State Council notice (test dates, not the real schedule)",
            "complete": True,
            "holidays": [
                {
                    "name_zh": "元旦",
                    "name_en": "New Year's Day",
                    "first": dt.date(last + 1, 1, 1),
                    "last": dt.date(last + 1, 1, 1),
                }
            ],
        }
    ]
    metrics.export_holiday_calendar(registry_from_data(raw).holiday_calendar, today, zone)
    assert exported() == dt.datetime(last + 2, 1, 1, tzinfo=zone).timestamp()
