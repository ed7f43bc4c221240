"""Evaluating rules on indicator records: each kind, thresholds by date, units, scope, overrides."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.rule_engine.evaluation import (
    RuleEvaluation,
    Sample,
    evaluate,
    evaluate_staleness,
    fingerprint,
    history_span,
    remember,
)
from citywatch.rule_engine.loader import load_paths
from citywatch.rule_engine.model import PERIOD_TO_DATE_WINDOWS, Rule
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import load_registry
from tools.devstack.config import REPO_ROOT

ZONE = ZoneInfo("Asia/Shanghai")
REGISTRY = load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")
RULES = {r.id: r for r in load_paths([REPO_ROOT / "rules"], REGISTRY).rules}


def record(indicator: str, site: str, value: float, at: dt.datetime, **extra: object) -> IndicatorRecord:
    entry = CATALOGUE[indicator]
    return IndicatorRecord.model_validate(
        {
            "indicator": indicator,
            "site": site,
            "value": value,
            "unit": entry.unit,
            "window": entry.window,
            "observed_at": at,
            "local_date": at.astimezone(ZONE).date(),
            # A figure of the year so far rests on the days so far: realistic, and past every rule's warm-up by spring.
            "samples": at.timetuple().tm_yday if entry.window in PERIOD_TO_DATE_WINDOWS else 1,
            **extra,
        }
    )


def at(day: str, hour: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), ZONE)


@pytest.mark.parametrize(
    ("day", "value", "outcome", "threshold"),
    [
        ("2025-06-01", 76, "breach", 75),
        ("2025-06-01", 72, "hold", 75),
        ("2025-06-01", 69.9, "clear", 75),
        ("2026-03-01", 61, "breach", 60),
        ("2026-03-01", 57, "hold", 60),
        ("2026-03-01", 54.9, "clear", 60),
    ],
)
def test_the_air_rule_keeps_its_meaning_75_then_60_with_clear_5_below(
    day: str, value: float, outcome: str, threshold: float
) -> None:
    result = evaluate(RULES["air-pm25-24h-grade2"], record("air.pm25.mean_24h", "wj-songling", value, at(day)))
    assert result is not None
    assert (result.outcome, result.threshold) == (outcome, threshold)
    assert result.fingerprint == fingerprint("air-pm25-24h-grade2", "wj-songling")
    assert result.annotations["runbook_url"] == "docs/runbooks/air-pm25-24h.md"
    assert f"({threshold:g} µg/m³)" in result.annotations["summary"]


def test_the_fingerprint_of_a_site_alert_is_unchanged_and_entity_labels_extend_it() -> None:
    assert fingerprint("r", "s") == fingerprint("r", "s", {"site": "s"})
    assert fingerprint("r", "s") != fingerprint("r", "s", {"pollutant": "pm25"})


def test_a_record_of_another_indicator_or_outside_the_period_gives_nothing() -> None:
    rule = RULES["air-pm25-24h-grade2"]
    assert evaluate(rule, record("air.pm10.mean_24h", "wj-songling", 500, at("2025-06-01"))) is None
    dated = rule.model_copy(update={"effective_from": dt.date(2026, 1, 1)})
    assert evaluate(dated, record("air.pm25.mean_24h", "wj-songling", 500, at("2025-06-01"))) is None


def test_a_percent_plan_target_applies_to_a_ratio_indicator() -> None:
    result = evaluate(
        RULES["public-transport-share-ytd-below-target"],
        record("mode_share.public_transport.ytd", "wj-district", 0.3, at("2025-06-01")),
    )
    assert result is not None and result.outcome == "breach"
    assert result.threshold == 0.35
    assert "公共交通出行率达到35%" in result.threshold_source


def test_the_water_target_comes_from_the_record_label_before_the_registry() -> None:
    rule = RULES["water-section-worse-than-target-month"]
    # wj-ws-canal-bachi's registry target is III: class IV breaches it, but a record saying target IV does not.
    from_registry = evaluate(rule, record("water.class.month", "wj-ws-canal-bachi", 4, at("2025-03-01")))
    from_label = evaluate(
        rule, record("water.class.month", "wj-ws-canal-bachi", 4, at("2025-03-01"), labels={"target_class": "IV"})
    )
    assert from_registry is not None and from_registry.outcome == "breach"
    assert from_label is not None and from_label.outcome == "clear"


def test_per_site_overrides_change_severity_and_labels() -> None:
    rule = RULES["water-section-worse-than-target-month"]
    taipu = evaluate(rule, record("water.class.month", "wj-ws-taipu-lili", 3, at("2025-03-01")))
    canal = evaluate(rule, record("water.class.month", "wj-ws-canal-bachi", 4, at("2025-03-01")))
    assert taipu is not None and (taipu.severity, taipu.labels["river_chief"]) == ("critical", "cross-border")
    assert canal is not None and canal.severity == "warning" and "river_chief" not in canal.labels


def test_an_override_can_disable_a_rule_for_a_site() -> None:
    rule = Rule.model_validate(
        {
            **RULES["air-pm25-24h-grade2"].model_dump(by_alias=True, exclude={"overrides"}),
            "overrides": [{"sites": ["wj-lili"], "enabled": False}],
        }
    )
    assert evaluate(rule, record("air.pm25.mean_24h", "wj-lili", 200, at("2025-06-01"))) is None
    assert evaluate(rule, record("air.pm25.mean_24h", "wj-tongli", 200, at("2025-06-01"))) is not None


def test_label_selectors_pick_sites_from_the_registry() -> None:
    rule = RULES["water-national-section-worse-than-target"]
    assert rule.scope.includes("wj-ws-taipu-lili")  # national
    assert not rule.scope.includes("wj-ws-canal-bachi")  # provincial


def test_an_unbound_selector_refuses_to_guess() -> None:
    rule = Rule.model_validate(RULES["bus-town-village-route-no-service"].model_dump(by_alias=True))
    with pytest.raises(RuntimeError, match="bound to the registry"):
        rule.scope.includes("wj-bus-701")


def test_windowed_rules_aggregate_the_remembered_history() -> None:
    rule = RULES["bus-ridership-below-baseline-3d"]
    history: tuple = ()
    outcomes = []
    for n, value in enumerate([0.6, 0.6, 0.6]):
        rec = record("bus.boardings.vs_baseline", "wj-bus-701", value, at("2025-03-03") + dt.timedelta(days=n))
        result = evaluate(rule, rec, history)
        outcomes.append(None if result is None else result.outcome)
        history = remember(rule, history, rec)
    assert outcomes == [None, None, "breach"]
    assert len(history) == 3


def test_a_statistic_with_insufficient_data_is_judged_by_no_rule() -> None:
    # GB 3095 Table 4: a 24 h mean needs 20 valid hours. The mean of 1 hour at 500 is no 24 h mean above 75.
    rule = RULES["air-pm25-24h-grade2"]
    short = record("air.pm25.mean_24h", "wj-songling", 500, at("2025-06-01"), status="insufficient-data", samples=1)
    assert evaluate(rule, short) is None
    valid = evaluate(rule, short.model_copy(update={"status": "valid", "samples": 24}))
    assert valid is not None and valid.outcome == "breach"


def test_a_window_neither_averages_an_insufficient_value_nor_keeps_one_it_revised() -> None:
    rule = RULES["bus-ridership-below-baseline-3d"]
    first = record("bus.boardings.vs_baseline", "wj-bus-701", 0.6, at("2025-03-03"))
    history = remember(rule, (), first)
    assert [s.value for s in history] == [0.6]
    short = record("bus.boardings.vs_baseline", "wj-bus-701", 0.1, at("2025-03-04"), status="insufficient-data")
    assert remember(rule, history, short) == history
    # A revision of the same bucket that turns out insufficient takes the earlier value out.
    assert remember(rule, history, first.model_copy(update={"status": "insufficient-data", "revision": 1})) == ()


def test_rate_of_change_is_per_hour_against_the_oldest_value_in_the_lookback() -> None:
    rule = RULES["air-pm25-1h-rapid-rise"]
    first = record("air.pm25.1h", "wj-songling", 20, at("2025-01-10", 0))
    later = record("air.pm25.1h", "wj-songling", 110, at("2025-01-10", 3))
    assert evaluate(rule, first) is None
    result = evaluate(rule, later, remember(rule, (), first))
    assert result is not None and (result.value, result.unit, result.outcome) == (30.0, "µg/m³/1h", "breach")


def test_attainment_grades_never_fire_together() -> None:
    statuses = ("off-track", "at-risk", "on-track")
    outcomes = {
        rule_id: [
            o.outcome
            if (
                o := evaluate(
                    RULES[rule_id], record("air.pm25.attainment", "wj-songling", 36, at("2025-06-01"), status=s)
                )
            )
            else None
            for s in statuses
        ]
        for rule_id in ("air-pm25-attainment-off-track", "air-pm25-attainment-at-risk")
    }
    assert outcomes == {
        "air-pm25-attainment-off-track": ["breach", "clear", "clear"],
        "air-pm25-attainment-at-risk": ["clear", "breach", "clear"],
    }


def test_plan_tracking_rules_wait_for_their_warm_up_and_exceedances_never_do() -> None:
    def judged(rule_id: str, indicator: str, value: float, samples: int) -> bool:
        return (
            evaluate(RULES[rule_id], record(indicator, "wj-songling", value, at("2026-01-04"), samples=samples))
            is not None
        )

    assert not judged("air-pm25-annual-ytd-above-limit", "air.pm25.annual_mean_ytd", 60, 3)
    assert judged("air-pm25-annual-ytd-above-limit", "air.pm25.annual_mean_ytd", 60, 90)
    assert not judged("air-pm25-attainment-off-track", "air.pm25.attainment", 60, 89)
    assert judged("air-pm25-24h-grade2", "air.pm25.mean_24h", 90, 20)


def test_alerts_carry_their_family_and_purpose() -> None:
    def labels(rule_id: str, indicator: str, value: float, **extra: object) -> dict[str, str]:
        found = evaluate(RULES[rule_id], record(indicator, "wj-songling", value, at("2026-06-01"), **extra))
        assert found is not None
        return found.labels

    exceedance = labels("air-pm25-24h-grade2", "air.pm25.mean_24h", 90)
    tracking = labels("air-pm25-attainment-at-risk", "air.pm25.attainment", 36, status="at-risk")
    assert (exceedance["family"], exceedance["purpose"]) == ("air-pm25-24h-grade2", "exceedance")
    assert (tracking["family"], tracking["purpose"]) == ("air-pm25-attainment", "plan-tracking")


def test_staleness_is_judged_on_the_processing_clock() -> None:
    rule = RULES["air-station-silent"]
    last = at("2025-01-10", 0)
    assert evaluate(rule, record("air.pm25.1h", "wj-songling", 30, last)) is None  # never on records
    early = evaluate_staleness(rule, "wj-songling", last, last + dt.timedelta(hours=3))
    late = evaluate_staleness(rule, "wj-songling", last, last + dt.timedelta(hours=4))
    assert early is not None and early.outcome == "clear"
    assert late is not None and (late.outcome, late.value, late.kind) == ("breach", 4 * 3600.0, "staleness")


def test_evaluations_carry_for_and_keep_firing_for_for_the_alert_service() -> None:
    result = evaluate(
        RULES["bus-clean-energy-share-below-target"],
        record("bus.clean_energy_share.day", "wj-district", 0.8, at("2025-06-01")),
    )
    assert result is not None and result.for_s == 2 * 86400 and result.keep_firing_for_s == 0


def test_an_override_can_change_for_and_the_condition() -> None:
    rule = Rule.model_validate(
        {
            **RULES["air-pm25-24h-grade2"].model_dump(by_alias=True, exclude={"overrides"}),
            "overrides": [{"sites": ["wj-lili"], "for": "2h", "condition": {"op": ">", "value": 50}}],
        }
    )
    lili = evaluate(rule, record("air.pm25.mean_24h", "wj-lili", 55, at("2025-06-01")))
    tongli = evaluate(rule, record("air.pm25.mean_24h", "wj-tongli", 55, at("2025-06-01")))
    assert lili is not None and (lili.outcome, lili.threshold, lili.for_s) == ("breach", 50, 7200)
    assert tongli is not None and (tongli.outcome, tongli.for_s) == ("clear", 0)


def test_a_retirement_names_the_removed_rule_and_its_site() -> None:
    from citywatch.rule_engine.evaluation import fingerprint, retirement
    from citywatch.rule_engine.loader import load_rules
    from citywatch.site_registry import load_registry
    from tools.devstack.config import REPO_ROOT

    registry = load_registry(REPO_ROOT / "registry/wujiang-sample.yaml")
    rule = next(r for r in load_rules(REPO_ROOT / "rules", registry) if r.id == "air-pm25-24h-grade2")
    found = retirement(rule, "wj-lili", dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert (found.outcome, found.fingerprint) == ("retired", fingerprint(rule.id, "wj-lili"))
    assert found.labels["site"] == "wj-lili" and found.severity == rule.severity


def test_alert_text_is_for_people() -> None:
    """What on-call reads: values at the standards' precision, per cent for shares, the plan target in words, the
    site's registry name, and the annual target instead of a threshold of 0 for attainment."""

    def summary(rule_id: str, indicator: str, value: float, **extra: object) -> tuple[str, RuleEvaluation]:
        found = evaluate(
            RULES[rule_id],
            record(indicator, "wj-district", value, at("2026-06-01"), **extra),
            site_name="Wujiang District 吴江区",
        )
        assert found is not None
        return found.annotations["summary"], found

    share, _ = summary("water-good-iii-share-month-below-target", "water.good_iii_share.month", 0.8333333333333334)
    assert share == "优Ⅲ share of Wujiang District 吴江区 (wj-district)'s sections this month is 83.3 %, below 100.0 %"
    bus, _ = summary("bus-clean-energy-share-below-target", "bus.clean_energy_share.day", 0.8)
    assert bus.endswith(
        "is 80.0 %, below the plan target for clean-energy share of the bus fleet, 85 % (清洁能源公交车比例达到85%)"
    ), bus
    aqi = evaluate(
        RULES["air-aqi-realtime-over-100-3h"],
        record("air.aqi.realtime", "wj-songling", 144.66666666666666, at("2026-06-01", 3)),
        [Sample(at("2026-06-01", h), 144.66666666666666) for h in (1, 2)],
        site_name="Songling 松陵",
    )
    assert aqi is not None and "averaged 145 over 3h" in aqi.annotations["summary"]
    assert aqi.annotations["site_name"] == "Songling 松陵"
    assert aqi.annotations["title"].startswith("The real-time AQI at a station has averaged above 100")
    attainment = evaluate(
        RULES["air-pm25-attainment-off-track"],
        record(
            "air.pm25.attainment",
            "wj-songling",
            41.2,
            at("2026-06-01"),
            status="off-track",
            labels={"target": "30", "projection_low": "36.0", "projection_high": "46.4"},
        ),
    )
    assert attainment is not None and attainment.threshold == 30.0
    assert attainment.annotations["summary"] == (
        "PM2.5 annual mean at wj-songling is off track: projected 41 µg/m³ (95 % range 36.0–46.4 µg/m³)"
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 300), st.booleans()), max_size=40))
def test_remembering_in_any_order_keeps_what_merging_every_value_keeps(arrivals) -> None:
    """The in-order fast path of `remember` (a value newer than every one kept is appended) leaves what merging
    by event time and dropping what the window no longer reaches leaves, whatever the order and the gaps."""
    rule = RULES["air-pm25-1h-rapid-rise"]
    span = history_span(rule)
    start = at("2025-06-01")
    history: tuple = ()
    merged: dict[dt.datetime, float | None] = {}
    for hours, value, insufficient in arrivals:
        when = start + dt.timedelta(hours=hours)
        extra = {"status": "insufficient-data"} if insufficient else {}
        history = remember(rule, history, record("air.pm25.1h", "wj-songling", value, when, **extra))
        merged[when] = None if insufficient else value
        kept = {t: v for t, v in merged.items() if v is not None}
        newest = max(kept, default=None)
        expected = [(t, kept[t]) for t in sorted(kept) if newest is not None and t > newest - span]
        merged = {**{t: v for t, v in merged.items() if v is None}, **dict(expected)}
        assert [(s.at, s.value) for s in history] == expected
