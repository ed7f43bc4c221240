from collections import Counter

from citywatch.indicators.catalogue import CATALOGUE
from streams.metrics import INDICATOR_GAUGES


def test_each_indicator_has_its_own_series_within_its_metric() -> None:
    # Indicators sharing a metric must differ by window or by stage (site vs district key), or one would
    # overwrite the other's gauge.
    keys = Counter((i.metric, i.window, i.stage) for i in CATALOGUE.values())
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_catalogue_metric_has_a_gauge_and_follows_the_naming_convention() -> None:
    assert set(INDICATOR_GAUGES) == {i.metric for i in CATALOGUE.values()}
    assert all(name.startswith(f"citywatch_{i.feed.split('.')[0]}_") for i in CATALOGUE.values() for name in [i.metric])


def test_every_feed_has_a_processor() -> None:
    from citywatch.registry import load_registry
    from citywatch.schemas.feeds import FEEDS
    from citywatch.settings import WorkerSettings
    from streams.processors import feed_processors

    processors = feed_processors(load_registry("registry/wujiang-sample.yaml"), WorkerSettings())
    assert set(processors) == set(FEEDS)
