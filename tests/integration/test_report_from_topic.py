"""The plan evaluation report from a real indicators topic: the simulator's feeds for 15 days go through the
worker, `citywatch report` reads the topic the worker wrote, and its headline figures are recomputed here from
the same topic, independently of citywatch.report (issue 7 item 4)."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from pathlib import Path

from citywatch.schemas.indicator import IndicatorRecord
from tests.conftest import REPO_ROOT, Isolation
from tests.integration.worker_runs import (
    SHANGHAI,
    produce,
    read_all,
    scenario_inputs,
    source_topics,
    wait_until_consumed,
)

START = dt.datetime(2025, 1, 20, tzinfo=SHANGHAI)
FIRST, LAST = dt.date(2025, 1, 20), dt.date(2025, 2, 3)  # spans a month end: January's water classes are in it


def _headlines(index: Path) -> dict[str, str]:
    rows = re.findall(r'<tr data-key="([a-z0-9_]+)"><th>.*?</th><td>(.*?)</td></tr>', index.read_text("utf-8"))
    return {key: html.unescape(value) for key, value in rows}


def _current(records: list[IndicatorRecord]) -> dict[tuple[str, str, str], IndicatorRecord]:
    """Highest revision per (indicator, site, bucket) among the period's records."""
    best: dict[tuple[str, str, str], IndicatorRecord] = {}
    for r in records:
        if FIRST <= r.local_date <= LAST:
            key = (r.indicator, r.site, r.period or r.observed_at.isoformat())
            if key not in best or r.revision >= best[key].revision:
                best[key] = r
    return best


def _latest_by_site(current: dict[tuple[str, str, str], IndicatorRecord], indicator: str) -> dict[str, IndicatorRecord]:
    out: dict[str, IndicatorRecord] = {}
    for (ind, site, _), r in sorted(current.items(), key=lambda item: item[1].local_date):
        if ind == indicator:
            out[site] = r
    return out


def test_report_headlines_equal_a_recomputation_from_the_topic(isolation: Isolation) -> None:
    bootstrap = isolation.stack.kafka_bootstrap
    topics = isolation.ensure_topics(2)
    inputs = scenario_inputs(15 * 24, start=START)
    produce(bootstrap, topics, inputs)
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    wait_until_consumed(bootstrap, isolation.env["CITYWATCH_WORKER_APP_ID"], source_topics(topics, inputs))

    out = isolation.tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "citywatch", "report", "--from", str(FIRST), "--to", str(LAST), "--out", str(out)],
        cwd=REPO_ROOT,
        env=isolation.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert topics.indicators in done.stdout
    shown = _headlines(out / "index.html")
    text = (out / "index.html").read_text("utf-8")
    assert "吴江区规划指标评估报告" in text and "盛泽站 (wj-shengze)" in text
    for name in re.findall(r'<img src="([^"]+)"', text):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name

    records = [IndicatorRecord.model_validate_json(v) for _, v in read_all(bootstrap, topics.indicators) if v]
    current = _current(records)
    city = [r.value for (ind, _, _), r in current.items() if ind == "air.city.pm25.daily_mean"]
    assert len(city) == (LAST - FIRST).days + 1, "every day of the period has its district PM2.5 mean"
    assert shown["pm25_period_mean"] == f"{sum(city) / len(city):.1f} µg/m³"
    attainment = _latest_by_site(current, "air.pm25.attainment")
    assert len(attainment) == 5
    on_track = sum(1 for r in attainment.values() if r.status == "on-track")
    assert shown["stations_on_track"] == f"{on_track} / {len(attainment)}"
    for pollutant in ("pm25", "o3"):
        days = _latest_by_site(current, f"air.{pollutant}.exceedance_days_ytd")
        assert shown[f"{pollutant}_exceedance_days"] == str(sum(int(r.value) for r in days.values()))
    (district,) = _latest_by_site(current, "air.city.good_day_share_ytd").values()
    assert shown["good_day_share"] == f"{district.value * 100:.1f} %"
    met = [r for (ind, _, _), r in current.items() if ind == "water.target_met.month"]
    assert met, "January ends in the period: its monthly classes must be on the topic"
    assert shown["water_target_met"] == f"{100 * sum(r.status == 'met' for r in met) / len(met):.1f} %"
    print(f"\nreport from {len(records)} indicator records of {topics.indicators}: {shown}")
