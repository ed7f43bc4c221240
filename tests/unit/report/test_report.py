"""The plan evaluation report rendered from simulator data run through the pure processors (no Kafka), with its
headline figures recomputed here from the records, independently of tools.report."""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import load_registry
from tests.unit.report.recompute import assert_headlines_match, current, headlines, latest_by_site
from tests.unit.report.simulated import ZONE, simulated_records
from tools.report import kafka_source, render
from tools.report.figures import Period, alert_transitions, compute, current_values

ROOT = Path(__file__).resolve().parents[3]
START = dt.datetime(2025, 1, 20, tzinfo=ZONE)
PERIOD = Period(dt.date(2025, 1, 20), dt.date(2025, 2, 3))  # spans a month end: January's water classes are in it


def _alert(tid: str, status: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "transition_id": tid,
        "status": status,
        "event_time": at.timestamp(),
        "rule_id": "air-pm25-24h",
        "site": "wj-shengze",
        "value": 80.5,
        "unit": "µg/m³",
        "threshold": 75,
        "severity": "warning",
    }


ALERTS = [
    _alert("fp1:1", "firing", dt.datetime(2025, 1, 22, 9, tzinfo=ZONE)),
    _alert("fp1:1", "firing", dt.datetime(2025, 1, 22, 9, tzinfo=ZONE)),  # re-published after a crash
    _alert("fp1:2", "resolved", dt.datetime(2025, 1, 23, 9, tzinfo=ZONE)),
    _alert("fp2:1", "firing", dt.datetime(2025, 1, 19, 23, 59, tzinfo=ZONE)),  # the day before the period
    _alert("fp3:1", "firing", dt.datetime(2025, 2, 3, 23, 0, tzinfo=ZONE)),
    # an episode found in backfilled history: listed, marked as nobody's page
    {**_alert("fp4:past:1", "firing", dt.datetime(2025, 1, 25, 9, tzinfo=ZONE)), "historical": True},
]


@pytest.fixture(scope="module")
def records() -> list[IndicatorRecord]:
    return simulated_records(load_registry(ROOT / "registry/wujiang-sample.yaml"), START, hours=16 * 24)


@pytest.fixture(scope="module")
def rendered(records: list[IndicatorRecord], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("report")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = load_registry(ROOT / "registry/wujiang-sample.yaml")
        names = {site.id: site.name_zh for site in registry.all_sites()}
        render.render(compute(records, PERIOD, ALERTS, ZONE, names), out, pdf=False)  # the PDF: test_report_pdf
    # matplotlib warns "Glyph … missing from font(s)" for every character it has to draw as an empty box.
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []
    yield out


def test_pngs_and_chinese_headings(rendered: Path) -> None:
    index = rendered / "index.html"
    text = index.read_text(encoding="utf-8")
    for heading in (
        "吴江区规划指标评估报告",
        "细颗粒物（PM2.5）年均浓度",
        "超标天数",
        "空气质量优良天数比例",
        "地表水断面水质类别",
    ):
        assert heading in text
    assert "盛泽站 (wj-shengze)" in text  # site names from the registry
    assert '<html lang="zh-CN">' in text and '<meta charset="utf-8">' in text
    images = re.findall(r'<img src="([^"]+)"', text)
    assert {"pm25_trend.png", "pm25_attainment.png", "exceedance_days.png", "good_day_share.png"} <= set(images)
    assert any(name.startswith("plan_") for name in images)
    for name in images:
        data = (rendered / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name


def test_headline_figures_equal_an_independent_recomputation(rendered: Path, records: list[IndicatorRecord]) -> None:
    shown = headlines(rendered / "index.html")
    values = current(records, PERIOD)
    assert_headlines_match(shown, values, PERIOD)
    (district,) = latest_by_site(values, "air.city.good_day_share_ytd").values()
    assert district.local_date == PERIOD.end
    assert shown["alerts_fired"] == "2"  # fp1:1 once, fp3:1; fp2:1 is before the period
    assert shown["historical_incidents"] == "1"  # fp4:past:1, from backfilled history


def test_water_classes_by_month(records: list[IndicatorRecord]) -> None:
    """Every month the period touches: January (ended in the period) and February (month to date)."""
    data = compute(records, PERIOD, (), ZONE)
    latest: dict[tuple[str, str | None], IndicatorRecord] = {}
    for r in records:
        key = (r.site, r.period)
        if r.indicator == "water.class.month" and r.period in ("2025-01", "2025-02"):
            latest[key] = max(latest.get(key, r), r, key=lambda x: x.revision)
    expected: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_, month), r in latest.items():
        expected[str(month)][r.labels["class"]] += 1
    assert set(expected) == {"2025-01", "2025-02"}
    assert data.water_classes == {m: dict(c) for m, c in expected.items()}
    assert [(m.month, m.provisional) for m in data.water_months] == [("2025-01", False), ("2025-02", True)]


def test_plan_targets_come_from_the_plan_table(records: list[IndicatorRecord]) -> None:
    data = compute(records, PERIOD, (), ZONE)
    by_id = {s.indicator.id: s for s in data.plan}
    share = by_id["mode_share.public_transport.ytd"]
    assert (share.target.id, share.unit, share.scale) == ("public_transport_share", "%", 100.0)
    (latest,) = share.latest.values()
    source = latest_by_site(current(records, PERIOD), "mode_share.public_transport.ytd")
    assert latest == pytest.approx(next(iter(source.values())).value * 100)
    assert "waste.tonnes.day" not in by_id  # a plant's tonnes are not comparable with the district's capacity


def test_current_values_take_the_highest_revision_inside_the_period() -> None:
    def rec(value: float, revision: int, day: int) -> IndicatorRecord:
        return IndicatorRecord(
            indicator="air.pm25.daily_mean",
            site="s",
            value=value,
            unit="µg/m³",
            window="day",
            observed_at=dt.datetime(2025, 1, day + 1, tzinfo=ZONE),
            local_date=dt.date(2025, 1, day),
            samples=24,
            revision=revision,
            period=f"2025-01-{day:02d}",
        )

    kept = current_values([rec(1, 2, 20), rec(2, 1, 20), rec(3, 1, 19), rec(4, 3, 21)], PERIOD)
    assert sorted(r.value for r in kept) == [1, 4]


def test_alert_transitions_are_counted_once_and_by_local_day() -> None:
    transitions = alert_transitions(ALERTS, PERIOD, ZONE)
    assert [(t.rule_id, t.status, t.at.date().isoformat()) for t in transitions] == [
        ("air-pm25-24h", "firing", "2025-01-22"),
        ("air-pm25-24h", "resolved", "2025-01-23"),
        ("air-pm25-24h", "firing", "2025-01-25"),
        ("air-pm25-24h", "firing", "2025-02-03"),
    ]
    assert [t.historical for t in transitions] == [False, False, True, False]


def test_historical_incidents_are_marked_in_the_alerts_table(rendered: Path) -> None:
    html = (rendered / "index.html").read_text(encoding="utf-8")
    assert html.count("historical: backfilled data, nobody was paged") == 1


def test_no_cjk_font_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(render, "CJK_FAMILIES", ("No Such CJK Font",))
    monkeypatch.setattr(render, "_CJK_FILE_HINTS", ("no-such-file",))
    with pytest.raises(render.MissingCJKFontError, match="fonts-noto-cjk"):
        render.render(compute([], PERIOD, (), ZONE), tmp_path)
    assert not (tmp_path / "index.html").exists()


def test_read_indicators_keeps_the_period_and_skips_foreign_records(monkeypatch: pytest.MonkeyPatch) -> None:
    inside = IndicatorRecord(
        indicator="air.city.pm25.daily_mean",
        site="wj-district",
        value=10,
        unit="µg/m³",
        window="day",
        observed_at=dt.datetime(2025, 1, 26, tzinfo=ZONE),
        local_date=dt.date(2025, 1, 25),
        samples=24,
    )
    outside = inside.model_copy(update={"local_date": dt.date(2025, 2, 4)})
    hourly = inside.model_copy(update={"indicator": "air.pm25.1h", "window": "1h"})  # not shown in the report
    # February's class is dated on its last day, after the period: the period's 3 days of February still see it.
    month = inside.model_copy(
        update={
            "indicator": "water.class.month",
            "window": "month",
            "period": "2025-02",
            "local_date": dt.date(2025, 2, 28),
        }
    )
    values = [inside, outside, hourly, month]
    encoded = [v.model_dump_json().encode() for v in values]
    monkeypatch.setattr(
        kafka_source,
        "topic_values",
        lambda bootstrap, topic, progress=None: iter([encoded[0], b"{not json", *encoded[1:]]),
    )
    assert kafka_source.read_indicators("unused:9092", "t", PERIOD) == [inside, month]
