"""The worker's rule engine: history for windowed and rate rules, staleness on an injected clock, reload, and
one site's state to JSON and back."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from citywatch.rule_engine.engine import ReloadDiff, RuleEngine, diff_rules
from citywatch.rule_engine.loader import load_paths
from citywatch.rule_engine.model import Rule
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import load_registry
from tests.unit.conftest import catalogue_record
from tests.unit.rules.alert_path import pm25_24h_transitions
from tools.devstack.config import REPO_ROOT

ZONE = ZoneInfo("Asia/Shanghai")
REGISTRY = load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")
SHIPPED = {r.id: r for r in load_paths([REPO_ROOT / "rules"], REGISTRY).rules}
T0 = dt.datetime(2025, 6, 1, 8, tzinfo=ZONE)
SITE = "wj-songling"


def rule(**fields: object) -> Rule:
    base: dict[str, object] = {
        "id": "test-rule",
        "description": "a test rule",
        "severity": "warning",
        "department": "environment",
        "source": "test",
    }
    return Rule.model_validate({**base, **fields})


WINDOWED = rule(
    id="aqi-3h",
    kind="window",
    indicator="air.aqi.realtime",
    window={"duration": "3h", "aggregation": "mean", "min_samples": 3},
    condition={"op": ">", "value": 100},
)
RATE = rule(
    id="pm25-rising",
    kind="rate_of_change",
    indicator="air.pm25.1h",
    rate={"lookback": "2h", "per": "1h"},
    condition={"op": ">", "value": 20},
)
SILENT = rule(id="air-silent", kind="staleness", indicator="air.pm25.1h", staleness={"after": "4h"})


def record(indicator: str, value: float, at: dt.datetime, site: str = SITE) -> IndicatorRecord:
    return catalogue_record(indicator, site, value, at)


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def feed(engine: RuleEngine, indicator: str, values: list[float], start: dt.datetime = T0) -> list[list[str]]:
    """Records one hour apart (arriving at their event time); the outcomes of each."""
    return [
        [r.outcome for r in engine.on_record(record(indicator, v, start + hours(n)), start + hours(n))]
        for n, v in enumerate(values)
    ]


def test_a_windowed_rule_needs_min_samples_then_judges_the_mean() -> None:
    engine = RuleEngine([WINDOWED], started=T0)
    # The mean of 150 150 10 is still a breach: no news, nothing sent; 150 10 10 clears.
    assert feed(engine, "air.aqi.realtime", [150, 150, 150, 10, 10]) == [[], [], ["breach"], [], ["clear"]]
    (back,) = engine.on_record(record("air.aqi.realtime", 400, T0 + hours(5)), T0 + hours(5))
    assert back.outcome == "breach"
    assert back.value == 140  # only the last three hours: 10 10 400


def test_without_history_the_windowed_rule_never_fires_which_is_why_the_engine_keeps_it() -> None:
    engine = RuleEngine([WINDOWED], started=T0)
    for n in range(5):
        engine.load_site(SITE, None)  # as if every record came to a fresh engine
        assert engine.on_record(record("air.aqi.realtime", 150, T0 + hours(n)), T0) == []


def test_a_rate_rule_compares_with_the_oldest_value_within_its_lookback() -> None:
    engine = RuleEngine([RATE], started=T0)
    outcomes = feed(engine, "air.pm25.1h", [30, 40, 90])
    assert outcomes == [[], ["clear"], ["breach"]]  # nothing to compare at first; +10/h; +30/h over 2 h
    (result,) = engine.on_record(record("air.pm25.1h", 80, T0 + hours(3)), T0 + hours(3))
    assert result.outcome == "clear"
    assert result.value == 20  # (80 − 40) / 2 h: 30 fell out of the 2 h lookback
    assert result.unit == "µg/m³/1h"


def test_the_history_is_per_site() -> None:
    engine = RuleEngine([WINDOWED], started=T0)
    engine.on_record(record("air.aqi.realtime", 150, T0, site="wj-lili"), T0)
    engine.on_record(record("air.aqi.realtime", 150, T0 + hours(1), site="wj-lili"), T0)
    assert engine.on_record(record("air.aqi.realtime", 150, T0 + hours(2)), T0) == []


def test_a_reload_keeps_the_history_of_unchanged_rules_and_reports_the_diff() -> None:
    engine = RuleEngine([WINDOWED, RATE, SILENT], started=T0)
    feed(engine, "air.aqi.realtime", [150, 150])
    stricter = RATE.model_copy(update={"severity": "critical"})
    added = rule(id="new-rule", indicator="air.no2.1h", condition={"op": ">", "value": 200})
    diff = engine.reload([WINDOWED, stricter, added])
    assert diff == ReloadDiff(
        added=("new-rule",), changed=("pm25-rising",), removed=("air-silent",), unchanged=("aqi-3h",)
    )
    assert str(diff) == "added new-rule; changed pm25-rising; removed air-silent; 1 unchanged"
    # the third value completes the window: the two before the reload still count
    assert [r.outcome for r in engine.on_record(record("air.aqi.realtime", 150, T0 + hours(2)), T0)] == ["breach"]
    assert [r.id for r in engine.rules] == ["aqi-3h", "pm25-rising", "new-rule"]


def test_a_reload_that_changes_the_window_drops_the_history_one_that_changes_the_threshold_keeps_it() -> None:
    engine = RuleEngine([WINDOWED], started=T0)
    feed(engine, "air.aqi.realtime", [150, 150])
    assert WINDOWED.window is not None and WINDOWED.condition is not None
    longer = WINDOWED.model_copy(update={"window": WINDOWED.window.model_copy(update={"duration": hours(4)})})
    assert engine.reload([longer]).changed == ("aqi-3h",)
    assert engine.on_record(record("air.aqi.realtime", 150, T0 + hours(2)), T0) == []  # history dropped: 1 sample

    engine = RuleEngine([WINDOWED], started=T0)
    feed(engine, "air.aqi.realtime", [150, 150])
    higher = WINDOWED.model_copy(update={"condition": WINDOWED.condition.model_copy(update={"value": 200})})
    assert engine.reload([higher]).changed == ("aqi-3h",)
    (result,) = engine.on_record(record("air.aqi.realtime", 150, T0 + hours(2)), T0)
    assert (result.outcome, result.threshold) == ("clear", 200)


def test_a_reload_of_the_same_rules_changes_nothing() -> None:
    rules = list(SHIPPED.values())
    assert diff_rules(rules, rules).empty
    assert not diff_rules(rules, rules[1:]).empty


def test_staleness_fires_after_the_silence_and_clears_when_data_arrives() -> None:
    engine = RuleEngine([SILENT], started=T0)
    engine.on_record(record("air.pm25.1h", 30, T0), T0)
    (first,) = engine.stale(T0 + hours(3))
    assert (first.outcome, first.site, first.value) == ("clear", SITE, 3 * 3600)
    assert engine.stale(T0 + hours(3.5)) == []  # unchanged: not published again
    (fired,) = engine.stale(T0 + hours(4))
    assert (fired.outcome, fired.observed_at) == ("breach", T0 + hours(4))
    assert engine.stale(T0 + hours(5)) == []
    # a record arriving clears it at once, not at the next tick
    (cleared,) = engine.on_record(record("air.pm25.1h", 30, T0 + hours(1)), T0 + hours(5))
    assert (cleared.rule_id, cleared.outcome, cleared.fingerprint) == ("air-silent", "clear", fired.fingerprint)
    assert engine.stale(T0 + hours(6)) == []
    assert [r.outcome for r in engine.stale(T0 + hours(9))] == ["breach"]


def test_a_site_never_seen_counts_from_the_engine_start_and_every_registry_site_in_scope_is_watched() -> None:
    engine = RuleEngine([SHIPPED["air-station-silent"]], REGISTRY, started=T0)
    stations = sorted(s.id for s in REGISTRY.sites_for_feed("air"))
    assert [(r.site, r.outcome) for r in engine.stale(T0 + hours(3))] == [(s, "clear") for s in stations]
    assert [r.site for r in engine.stale(T0 + hours(4))] == stations
    owned = engine.stale(T0 + hours(4), owns=lambda site: site == SITE)
    assert owned == []  # already published as breach


def test_staleness_judged_in_steps_gives_what_one_pass_gives_a_list_per_step_of_sites() -> None:
    """The worker's timer lets other work run between steps; what it publishes must not depend on the step."""
    stations = sorted(s.id for s in REGISTRY.sites_for_feed("air"))
    one_pass = RuleEngine([SHIPPED["air-station-silent"]], REGISTRY, started=T0)
    stepped = RuleEngine([SHIPPED["air-station-silent"]], REGISTRY, started=T0)
    for engine in (one_pass, stepped):
        engine.on_record(record("air.pm25.1h", 30, T0 + hours(2)), T0 + hours(2))
    for at in (3, 4, 5, 6, 7):
        steps = list(stepped.stale_in_steps(T0 + hours(at), sites_per_step=2))
        assert len(steps) == len(stations) // 2 + 1
        assert [r for step in steps for r in step] == one_pass.stale(T0 + hours(at))
    # a site with an override is judged by the override, not by the shortcut for the common case
    shipped = SHIPPED["air-station-silent"].model_dump(by_alias=True)
    overridden = Rule.model_validate({**shipped, "overrides": [{"sites": [SITE], "for": "1h"}]})
    engine = RuleEngine([overridden], REGISTRY, started=T0)
    assert len(engine.stale(T0 + hours(5))) == len(stations)
    assert [r.site for r in engine.stale(T0 + hours(5))] == [SITE]  # repeated for its `for`; the others unchanged


def test_only_the_owned_sites_are_judged() -> None:
    engine = RuleEngine([SHIPPED["air-station-silent"]], REGISTRY, started=T0)
    assert [r.site for r in engine.stale(T0 + hours(5), owns=lambda site: site == SITE)] == [SITE]


def test_a_rule_with_for_repeats_its_outcome_on_every_tick_so_the_lifecycle_can_time_it() -> None:
    engine = RuleEngine([SILENT.model_copy(update={"for_": hours(1)})], started=T0)
    engine.on_record(record("air.pm25.1h", 30, T0), T0)
    assert [r.outcome for r in engine.stale(T0 + hours(4))] == ["breach"]
    assert [r.outcome for r in engine.stale(T0 + hours(5))] == ["breach"]


def test_after_forget_sites_are_loaded_again_and_outcomes_published_again() -> None:
    engine = RuleEngine([SILENT], started=T0)
    engine.on_record(record("air.pm25.1h", 30, T0), T0)
    assert len(engine.stale(T0 + hours(5))) == 1
    engine.forget(T0 + hours(5))
    assert not engine.is_loaded(SITE)
    assert [r.outcome for r in engine.stale(T0 + hours(6))] == ["breach"]  # published again
    # another worker had the site meanwhile and stored a newer arrival
    engine.load_site(SITE, {"v": 1, "history": {}, "last_seen": {"air.pm25.1h": (T0 + hours(5)).isoformat()}})
    assert engine.is_loaded(SITE)
    assert [r.outcome for r in engine.stale(T0 + hours(6))] == ["clear"]


def test_after_forget_a_site_never_seen_counts_from_then() -> None:
    engine = RuleEngine([SHIPPED["air-station-silent"]], REGISTRY, started=T0)
    engine.forget(T0 + hours(3))
    assert {r.outcome for r in engine.stale(T0 + hours(6))} == {"clear"}
    assert {r.outcome for r in engine.stale(T0 + hours(7))} == {"breach"}


def test_a_clock_that_went_back_counts_from_now() -> None:
    engine = RuleEngine([SILENT], started=T0)
    engine.load_site(SITE, {"v": 1, "history": {}, "last_seen": {"air.pm25.1h": (T0 + hours(100)).isoformat()}})
    assert [r.outcome for r in engine.stale(T0)] == ["clear"]
    assert [r.outcome for r in engine.stale(T0 + hours(4))] == ["breach"]


def test_a_site_state_survives_json_and_a_new_engine() -> None:
    engine = RuleEngine([WINDOWED, RATE, SILENT], started=T0)
    feed(engine, "air.aqi.realtime", [150, 150])
    feed(engine, "air.pm25.1h", [30])
    engine.on_record(record("air.aqi.realtime", 150, T0, site="wj-lili"), T0)
    data = json.loads(json.dumps(engine.export_site(SITE)))
    assert set(data["history"]) == {"aqi-3h", "pm25-rising"}
    # Only the indicator a staleness rule watches: air.aqi.realtime arrived too, but nothing asks when.
    assert data["last_seen"] == {"air.pm25.1h": T0.isoformat()}

    restarted = RuleEngine([WINDOWED, RATE, SILENT], started=T0 + hours(10))
    restarted.load_site(SITE, data)
    assert restarted.export_site(SITE) == data
    assert [r.outcome for r in restarted.on_record(record("air.aqi.realtime", 150, T0 + hours(2)), T0)] == ["breach"]
    assert [r.outcome for r in restarted.stale(T0 + hours(10))] == ["breach"]  # last seen before the restart


def test_loading_drops_the_values_of_rules_that_are_gone_or_look_back_differently() -> None:
    engine = RuleEngine([WINDOWED, RATE], started=T0)
    feed(engine, "air.aqi.realtime", [150])
    feed(engine, "air.pm25.1h", [30])
    data = engine.export_site(SITE)
    assert RATE.rate is not None
    longer = RATE.model_copy(update={"rate": RATE.rate.model_copy(update={"lookback": hours(3)})})
    other = RuleEngine([longer], started=T0)
    other.load_site(SITE, data)
    assert other.export_site(SITE)["history"] == {}
    other.load_site(SITE, {"v": 99})  # an unknown version is ignored, not trusted
    assert other.export_site(SITE) == {"v": 1, "history": {}, "last_seen": {}, "sent": {}}


def test_loading_a_site_replaces_only_that_site() -> None:
    engine = RuleEngine([WINDOWED], started=T0)
    feed(engine, "air.aqi.realtime", [150])
    engine.on_record(record("air.aqi.realtime", 150, T0, site="wj-lili"), T0)
    engine.load_site(SITE, None)
    assert engine.export_site(SITE)["history"] == {}
    assert engine.export_site("wj-lili")["history"] != {}


def test_retirements_cover_every_site_a_removed_rule_could_have_alerted_on() -> None:
    from citywatch.rule_engine.loader import load_rules
    from citywatch.site_registry import load_registry
    from tools.devstack.config import REPO_ROOT

    registry = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
    rules = load_rules(REPO_ROOT / "rules", registry)
    silent = next(r for r in rules if r.id == "air-station-silent")
    engine = RuleEngine(rules, registry, started=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    found = engine.retirements([silent], dt.datetime(2026, 5, 2, tzinfo=dt.UTC))
    air_stations = sorted(s.id for s in registry.sites_for_feed("air"))
    assert sorted(e.site for e in found) == air_stations
    assert {e.outcome for e in found} == {"retired"}


def test_a_station_first_hours_page_nobody_until_its_24h_mean_is_valid() -> None:
    # The first hour alone is above 75; the hours after it bring the mean under 70 long before 20 hours exist.
    # Judging the 1-hour "mean" would fire and then resolve: a page for a statistic GB 3095 does not recognise.
    transitions, judged = pm25_24h_transitions([90.0] + [30.0] * 29)
    assert transitions == []
    assert judged and min(judged) == 20


def test_an_episode_after_a_valid_day_fires_once_and_resolves_once() -> None:
    transitions, _ = pm25_24h_transitions([30.0] * 24 + [130.0] * 30 + [30.0] * 30)
    assert transitions == ["firing", "resolved"]


def test_a_rule_whose_scope_narrows_ends_the_alerts_of_the_sites_it_no_longer_takes() -> None:
    from citywatch.rule_engine.loader import load_rules
    from citywatch.rule_engine.model import Scope
    from citywatch.site_registry import load_registry
    from tools.devstack.config import REPO_ROOT

    registry = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
    rules = load_rules(REPO_ROOT / "rules", registry)
    before = next(r for r in rules if r.id == "water-section-silent")
    wide = before.model_copy(update={"scope": Scope()})  # every section, as shipped before this change
    wide.bind(registry.all_sites())
    engine = RuleEngine(rules, registry, started=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    found = engine.retirements([], dt.datetime(2026, 5, 2, tzinfo=dt.UTC), [(wide, before)])
    provincial = sorted(s.id for s in registry.sections if s.level != "national")
    assert provincial and sorted(e.site for e in found) == provincial


# --- only news is sent ----------------------------------------------------------------------------------------------
INSTANT = rule(id="pm25-high", indicator="air.pm25.1h", condition={"op": ">", "value": 75})
PATIENT = rule(id="pm25-high-for-2h", indicator="air.pm25.1h", condition={"op": ">", "value": 75}, **{"for": "2h"})


def test_an_unchanged_outcome_is_not_sent_again() -> None:
    engine = RuleEngine([INSTANT], started=T0)
    outcomes = feed(engine, "air.pm25.1h", [80, 90, 100, 10, 20, 90])
    assert outcomes == [["breach"], [], [], ["clear"], [], ["breach"]]


def test_a_rule_with_for_sends_every_outcome_its_timer_needs() -> None:
    engine = RuleEngine([PATIENT], started=T0)
    assert feed(engine, "air.pm25.1h", [80, 90, 100, 10, 20]) == [["breach"]] * 3 + [["clear"]] * 2


def test_a_late_outcome_is_sent_but_the_newest_one_stays_what_later_ones_compare_with() -> None:
    engine = RuleEngine([INSTANT], started=T0)
    feed(engine, "air.pm25.1h", [80, 90], start=T0 + hours(10))  # breach at 10 h; 11 h sends nothing
    (late,) = engine.on_record(record("air.pm25.1h", 10, T0 + hours(5)), T0 + hours(12))
    assert late.outcome == "clear"  # older than the breach: the alert service drops it as stale itself
    # Had the late clear been remembered, this clear would look like no news and the alert would fire forever.
    (cleared,) = engine.on_record(record("air.pm25.1h", 10, T0 + hours(12)), T0 + hours(12))
    assert cleared.outcome == "clear"


def test_a_revision_that_changes_the_outcome_is_sent_one_that_does_not_is_not() -> None:
    engine = RuleEngine([INSTANT], started=T0)
    feed(engine, "air.pm25.1h", [80])
    same_time = record("air.pm25.1h", 85, T0).model_copy(update={"revision": 1})
    assert engine.on_record(same_time, T0) == []
    revised = record("air.pm25.1h", 40, T0).model_copy(update={"revision": 2})
    assert [(r.outcome, r.revision) for r in engine.on_record(revised, T0)] == [("clear", 2)]


def test_what_was_sent_survives_a_restart_with_the_site_state_and_a_changed_rule_sends_afresh() -> None:
    engine = RuleEngine([INSTANT], started=T0)
    feed(engine, "air.pm25.1h", [80])
    saved = json.loads(json.dumps(engine.export_site(SITE)))
    restarted = RuleEngine([INSTANT], started=T0)
    restarted.load_site(SITE, saved)
    assert feed(restarted, "air.pm25.1h", [90], start=T0 + hours(1)) == [[]]
    restarted.reload([INSTANT.model_copy(update={"severity": "critical"})])
    assert feed(restarted, "air.pm25.1h", [95], start=T0 + hours(2)) == [["breach"]]
    fresh = RuleEngine([INSTANT], started=T0)  # no saved state: the first outcome is always sent
    assert feed(fresh, "air.pm25.1h", [90], start=T0 + hours(1)) == [["breach"]]


def test_only_a_scope_with_label_selectors_keeps_site_ids_of_the_registry() -> None:
    """At 100,000 sites a set of every site id per rule was most of a worker's memory (issue 18 item 5): a scope of
    "*" or of listed sites is checked without the registry and keeps nothing of it."""
    from citywatch.rule_engine.model import Scope, Selector

    sites = REGISTRY.all_sites()
    every, listed = Scope(), Scope(sites=[sites[0].id])
    national = Scope(match=Selector(level="national"))
    for scope in (every, listed, national):
        scope.bind(sites)
    assert every._bound is None and listed._bound is None
    assert every.includes(sites[-1].id) and listed.includes(sites[0].id) and not listed.includes(sites[-1].id)
    assert national._bound == {s.id for s in REGISTRY.sections if s.level == "national"}


def test_an_indicator_a_reload_starts_watching_counts_from_the_first_tick_after_it() -> None:
    """Arrivals are remembered only for watched indicators (issue 18 item 5), so a staleness rule added by a
    reload knows nothing of earlier arrivals: its sites count as silent from the first tick after the reload, not
    from the engine's start (which would page at once for sites that were reporting all along)."""
    silent = SHIPPED["air-station-silent"]
    after = silent.staleness.after if silent.staleness else dt.timedelta(0)
    engine = RuleEngine([WINDOWED], REGISTRY, started=T0)
    feed(engine, "air.pm25.1h", [30, 30, 30])
    assert engine.export_site(SITE)["last_seen"] == {}
    engine.reload([WINDOWED, silent])
    tick = T0 + hours(10)

    def outcome(now: dt.datetime) -> str | None:
        """The site's staleness outcome published at `now` (None: unchanged, so nothing is sent)."""
        return next((r.outcome for r in engine.stale(now) if r.site == SITE), None)

    assert outcome(tick) == "clear"
    assert outcome(tick + after - dt.timedelta(minutes=1)) is None
    assert outcome(tick + after) == "breach"
    cleared = engine.on_record(record("air.pm25.1h", 30, tick + after), tick + after)
    assert [(r.rule_id, r.outcome) for r in cleared] == [(silent.id, "clear")]
