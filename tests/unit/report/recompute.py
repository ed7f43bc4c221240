"""The report's headline figures worked out again, independently of tools.report (written out on purpose):
shared by the unit test (simulated records) and the integration test (records read back from the topic). The
figures are shown at the standards' reporting precision (`citywatch.standards.reporting`)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards.reporting import reported, with_unit
from tools.report.figures import Period


def headlines(index: Path) -> dict[str, str]:
    """The headline table of a rendered report: data-key -> the text shown."""
    rows = re.findall(r'<tr data-key="([a-z0-9_]+)"><th>.*?</th><td>(.*?)</td></tr>', index.read_text("utf-8"))
    return {key: html.unescape(value) for key, value in rows}


def current(records: list[IndicatorRecord], period: Period) -> dict[tuple[str, str, str], IndicatorRecord]:
    """Highest revision per (indicator, site, bucket) among the period's records."""
    best: dict[tuple[str, str, str], IndicatorRecord] = {}
    for r in records:
        if not period.start <= r.local_date <= period.end:
            continue
        key = (r.indicator, r.site, r.period or r.observed_at.isoformat())
        if key not in best or r.revision >= best[key].revision:
            best[key] = r
    return best


def latest_by_site(values: dict[tuple[str, str, str], IndicatorRecord], indicator: str) -> dict[str, IndicatorRecord]:
    out: dict[str, IndicatorRecord] = {}
    for (ind, site, _), r in sorted(values.items(), key=lambda item: item[1].local_date):
        if ind == indicator:
            out[site] = r
    return out


def assert_headlines_match(
    shown: dict[str, str], values: dict[tuple[str, str, str], IndicatorRecord], period: Period
) -> None:
    """The air and water headline figures equal those recomputed from `values` (see `current`)."""
    city = [r.value for (ind, _, _), r in values.items() if ind == "air.city.pm25.daily_mean"]
    assert len(city) == (period.end - period.start).days + 1, "every day of the period has its district PM2.5 mean"
    assert shown["pm25_period_mean"] == with_unit(sum(city) / len(city), "µg/m³")
    attainment = latest_by_site(values, "air.pm25.attainment")
    assert len(attainment) == 5
    on_track = sum(1 for r in attainment.values() if r.status == "on-track")
    assert shown["stations_on_track"] == f"{on_track} / {len(attainment)}"
    for pollutant in ("pm25", "o3"):
        days = latest_by_site(values, f"air.{pollutant}.exceedance_days_ytd")
        assert shown[f"{pollutant}_exceedance_days"] == str(sum(int(r.value) for r in days.values()))
    (district,) = latest_by_site(values, "air.city.good_day_share_ytd").values()
    assert shown["good_day_share"] == reported(district.value, "ratio")
    # The months that ended in the period (dated on their last day); a month still running is month to date and
    # does not count in the headline while a complete month does.
    met = [r for (ind, _, _), r in values.items() if ind == "water.target_met.month"]
    assert met, "the period spans a month end: that month's water classes must be there"
    assert shown["water_target_met"] == reported(sum(r.status == "met" for r in met) / len(met), "ratio")
