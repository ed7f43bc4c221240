"""The evaluation report as a planning bureau files it (issue 17), for a 4-day period and for a full year: every
section says what it covers and why anything is missing, the month still running is marked provisional, axes fit
the period, numbers are at the standards' reporting precision, a capacity is shown as utilisation, alerts not read
are "not included", and report.pdf sits beside index.html with pages that render (pypdfium2, to PNG)."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image
from typer.testing import CliRunner

from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import load_registry
from citywatch.standards.reporting import reported, with_unit
from citywatch.standards.targets import pm25_annual_target
from tests.unit.report.recompute import headlines
from tests.unit.report.simulated import ZONE, simulated_records, year_records
from tools.cli import report as report_cli
from tools.report import kafka_source, render
from tools.report.figures import Period, ReportData, compute

ROOT = Path(__file__).resolve().parents[3]
REGISTRY = load_registry(ROOT / "registry/wujiang-sample.yaml")
NAMES = {site.id: site.name_zh for site in REGISTRY.all_sites()}

FOUR_DAYS = Period(dt.date(2026, 12, 2), dt.date(2026, 12, 5))
FOUR_DAYS_READ = dt.datetime(2026, 12, 5, 21, 10, tzinfo=ZONE)  # December, and the period's last day, not over
YEAR = Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
YEAR_READ = dt.datetime(2026, 1, 5, 9, 0, tzinfo=ZONE)


def _alert(tid: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    return {"transition_id": tid, "status": "firing", "event_time": at.timestamp(), "site": "wj-shengze", **fields}


YEAR_ALERTS = [
    # An attainment rule's condition is a status: the alert carries threshold 0 when the record named no target.
    _alert(
        "att:1", dt.datetime(2025, 4, 2, 9, tzinfo=ZONE), rule_id="air-pm25-attainment-off-track", kind="attainment",
        indicator="air.pm25.attainment", value=41.23456789, unit="µg/m³", threshold=0.0, severity="warning",
    ),
    _alert(
        "pm:1", dt.datetime(2025, 1, 9, 9, tzinfo=ZONE), rule_id="air-pm25-24h-grade2", kind="threshold",
        indicator="air.pm25.mean_24h", value=80.45678, unit="µg/m³", threshold=75.0, severity="warning",
    ),
    _alert(
        "gd:1", dt.datetime(2025, 6, 1, 9, tzinfo=ZONE), rule_id="air-good-day-share-below-target",
        kind="share_below_target", indicator="air.city.good_day_share_ytd", site="wj-district", value=0.812345,
        unit="ratio", threshold=0.85, severity="warning",
    ),
]  # fmt: skip


@dataclass(frozen=True)
class Built:
    records: list[IndicatorRecord]
    data: ReportData
    out: Path
    seconds: float  # rendering: plots, HTML and PDF

    @property
    def text(self) -> str:
        return (self.out / "index.html").read_text("utf-8")

    def section(self, key: str) -> str:
        found = re.search(rf'<section id="{key}">(.*?)</section>', self.text, re.S)
        assert found, key
        return html.unescape(found.group(1))


def _build(records: list[IndicatorRecord], period: Period, alerts: Any, read: dt.datetime, out: Path) -> Built:
    data = compute(records, period, alerts, ZONE, NAMES, as_of=read)
    started = time.perf_counter()
    render.render(data, out)
    return Built(records, data, out, time.perf_counter() - started)


@pytest.fixture(scope="module")
def four_days(tmp_path_factory: pytest.TempPathFactory) -> Built:
    # The simulator's feeds up to the hour the report is made: 2026-12-02 00:00 → 12-05 21:00.
    records = simulated_records(REGISTRY, dt.datetime(2026, 12, 2, tzinfo=ZONE), hours=3 * 24 + 21)
    return _build(records, FOUR_DAYS, None, FOUR_DAYS_READ, tmp_path_factory.mktemp("four-days"))


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(year_records(REGISTRY, 2025), YEAR, YEAR_ALERTS, YEAR_READ, tmp_path_factory.mktemp("year"))


BOTH = pytest.mark.parametrize("built", ["four_days", "year"])


@BOTH
def test_pdf_beside_the_html_has_pages_that_render(built: str, request: pytest.FixtureRequest) -> None:
    report: Built = request.getfixturevalue(built)
    pdf = report.out / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    document = pdfium.PdfDocument(pdf)
    try:
        pages = len(document)
        assert pages >= 1
        text = ""
        for index in range(pages):
            page = document[index]
            image: Image.Image = page.render(scale=0.5).to_pil().convert("L")
            image.save(report.out / f"page-{index + 1}.png")
            inked = sum(image.histogram()[:200])  # pixels darker than light grey
            assert inked > 0.002 * image.width * image.height, f"page {index + 1} is blank"
            text += page.get_textpage().get_text_range()
    finally:
        document.close()
    flat = re.sub(r"\s+", " ", text)
    for heading in render.HEADINGS.values():
        assert heading.split(" · ")[1] in flat, heading  # every section is in the PDF, CJK headings with it
    assert "规划指标评估报告" in flat
    print(f"\n{built}: {pages} PDF pages, rendered in {report.seconds:.1f} s")


@BOTH
def test_every_section_says_what_it_covers(built: str, request: pytest.FixtureRequest) -> None:
    report: Built = request.getfixturevalue(built)
    for key in render.HEADINGS:
        section = report.section(key)
        assert render.HEADINGS[key] in section
        assert re.search(r'<p class="covers">.*?Covers</span> \S', section), key
    assert "no data in the period" not in report.text


def test_four_days_water_is_the_month_to_date_marked_provisional(four_days: Built) -> None:
    (december,) = four_days.data.water_months
    assert (december.month, december.provisional) == ("2026-12", True) and december.sections > 0
    water = four_days.section("water")
    assert (
        "months the period touches: 2026-12 (1); 整月 · complete: 0; 月初至今，暂定 · month to date, provisional: 2026-12"
        in water
    )
    assert "month to date, provisional" in water and "the month goes on after the period" in water
    assert headlines(four_days.out / "index.html")["water_target_met"].endswith(
        "(月初至今，暂定 · month to date, provisional)"
    )


def test_four_days_alerts_not_read_are_not_included(four_days: Built) -> None:
    shown = headlines(four_days.out / "index.html")
    assert shown["alerts_fired"].startswith("未纳入 · not included")
    assert shown["historical_incidents"].startswith("未纳入 · not included")
    assert "not included" in four_days.section("alerts") and "<table" not in four_days.section("alerts")


def test_four_days_capacity_is_shown_as_utilisation(four_days: Built) -> None:
    (row,) = re.findall(r"<tr><td>[^<]*</td><td>waste\.district\.tonnes\.day</td>.*?</tr>", four_days.text)
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
    tonnes = max(
        (r for r in four_days.records if r.indicator == "waste.district.tonnes.day" and r.local_date in FOUR_DAYS),
        key=lambda r: (r.local_date, r.revision),
    )
    assert cells[3] == f"{with_unit(tonnes.value, 't/day')} ({tonnes.local_date})"
    assert cells[4] == "设计处理能力 · capacity 3,000 t/day"
    assert cells[5] == f"能力利用率 · {reported(tonnes.value / 3000, 'ratio')} of capacity (3,000 t/day)"
    assert "not met" not in row and "met" not in cells[5]


def test_four_days_headlines_at_reporting_precision(four_days: Built) -> None:
    shown = headlines(four_days.out / "index.html")
    daily = {r.local_date: r for r in four_days.records if r.indicator == "air.city.pm25.daily_mean"}
    values = [r.value for d, r in daily.items() if d in FOUR_DAYS]
    assert shown["pm25_period_mean"] == with_unit(sum(values) / len(values), "µg/m³")
    assert re.fullmatch(r"\d+ µg/m³", shown["pm25_period_mean"])


def _day_number(day: dt.date) -> float:
    return float((day - dt.date(1970, 1, 1)).days)


@BOTH
def test_date_axes_fit_the_period_and_series_are_lines(built: str, request: pytest.FixtureRequest) -> None:
    report: Built = request.getfixturevalue(built)
    period = report.data.period
    span = (_day_number(period.start) - 0.5, _day_number(period.end) + 0.5)
    figures = [render._pm25_trend(report.data), render._good_days(report.data)]
    figures += [render._plan(series, report.data) for series in report.data.plan]
    for figure in figures:
        (ax,) = figure.axes
        assert ax.get_xlim() == pytest.approx(span), ax.get_title()
        # Year-to-date series are drawn over the period: one point per day with data, not a lone dot.
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]  # type: ignore[arg-type]
        assert lines, ax.get_title()
        assert all(span[0] <= x <= span[1] for line in lines for x in line.get_xdata()), ax.get_title()  # type: ignore[union-attr]
    days = {
        r.local_date for r in report.records if r.indicator == "air.city.good_day_share_ytd" and r.local_date in period
    }
    assert [d for d, _ in report.data.good_day_share] == sorted(days) and len(days) >= 3


def test_year_has_every_month_complete_and_no_provisional_water(year: Built) -> None:
    months = year.data.water_months
    assert [m.month for m in months] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert not any(m.provisional for m in months) and all(m.sections == len(REGISTRY.sections) for m in months)
    assert "provisional" not in year.section("water")
    assert "365 / 365 天 · days (2025-01-01 → 2025-12-31)" in year.section("pm25")


def test_year_alerts_table_at_reporting_precision(year: Built) -> None:
    alerts = year.section("alerts")
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", alerts)]
    by_rule = {row[2]: row for row in rows}
    assert set(by_rule) == {"air-pm25-attainment-off-track", "air-pm25-24h-grade2", "air-good-day-share-below-target"}
    target = pm25_annual_target(dt.date(2025, 4, 2))
    assert by_rule["air-pm25-attainment-off-track"][5:] == ["41 µg/m³", f"annual target ≤ {target.value} µg/m³"]
    assert by_rule["air-pm25-24h-grade2"][5:] == ["80 µg/m³", "75 µg/m³"]
    assert by_rule["air-good-day-share-below-target"][5:] == ["81.2 %", "85.0 %"]
    assert by_rule["air-pm25-24h-grade2"][0] == "2025-01-09T09:00+08:00"
    # No float's full tail anywhere in the report, and no bare zero threshold.
    assert re.findall(r"(?<![\d.])\d+\.\d{3,}", year.text) == []
    assert "<td>0.0</td>" not in alerts and "<td>0</td>" not in alerts


def test_report_command_is_quiet_and_names_the_html_and_the_pdf(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The console: a progress bar, no Kafka client INFO lines, where the files are, alerts "not included"."""
    seen: dict[str, ReportData] = {}

    def indicators(bootstrap: str, topic: str, period: Period, progress: Any = None) -> list[IndicatorRecord]:
        logging.getLogger("kafka.conn").info("<connecting> [IPv4 ('127.0.0.1', 9092)]: connecting")
        progress(0, 2)
        progress(2, 2)
        return []

    def fake_render(data: ReportData, out: Path, progress: Any = None) -> render.Rendered:
        seen["data"] = data
        for step in range(render.render_steps(data)):
            progress(str(step))
        return render.Rendered(out / "index.html", out / "report.pdf")

    monkeypatch.setattr(kafka_source, "read_indicators", indicators)
    monkeypatch.setattr(render, "render", fake_render)
    monkeypatch.setenv("CITYWATCH_REGISTRY_FILE", str(ROOT / "registry/wujiang-sample.yaml"))
    app = report_cli.typer.Typer()
    report_cli.register(app)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # the command sets up the process's logging (a JSON handler on stderr): put the test's back afterwards
        result = CliRunner().invoke(app, ["--from", "2026-12-02", "--to", "2026-12-05", "--out", str(tmp_path)])
        kafka_level = logging.getLogger("kafka").level
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in report_cli.QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert result.exit_code == 0, result.output
    assert "connecting" not in result.output
    assert f"HTML: {tmp_path / 'index.html'}" in result.stdout
    assert f"PDF:  {tmp_path / 'report.pdf'}" in result.stdout
    assert "alerts: not included" in result.stdout
    assert seen["data"].alerts_read is False and seen["data"].as_of is not None
    assert kafka_level == logging.WARNING
    assert "rendering" in result.stderr  # the progress bar (rich prints its last state when not on a terminal)


def test_a_period_across_gb3095_2026_draws_each_days_target(tmp_path: Path) -> None:
    # issue 17 review: the PM2.5 target line of a period across 2026-03-01 was the last day's 30 for January too
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    data = compute([], period, zone=ZONE, as_of=dt.datetime(2026, 4, 1, tzinfo=ZONE))
    by_day = dict(data.pm25_target_by_day)
    assert (by_day[dt.date(2026, 2, 28)], by_day[dt.date(2026, 3, 1)]) == (35.0, 30.0)
    assert len(data.pm25_target_by_day) == period.days
    render.render(data, tmp_path, pdf=False)  # the stepped line draws (no data: only the target)
    assert (tmp_path / "index.html").exists() and any(tmp_path.glob("*.png"))
