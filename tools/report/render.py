"""Render the report: PNG plots (matplotlib, headless), index.html (Jinja2 templates in `templates/`) and report.pdf
(WeasyPrint, from the same HTML with the plots embedded), in Chinese and English.

Chinese text needs a CJK font: matplotlib's default (DejaVu Sans) has no Chinese glyphs and would draw empty boxes.
`cjk_font()` finds one (fonts-noto-cjk, installed by `citywatch stack install`) and the plots use it as the fallback
family after DejaVu Sans, so Latin text and numbers keep DejaVu and every Chinese character comes from the CJK font.
Numbers are shown at the standards' reporting precision (`citywatch.standards.reporting`), never as raw floats.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from citywatch.local_time import shown
from citywatch.runs import consecutive_runs
from citywatch.standards.gb3838 import WaterClass
from citywatch.standards.reporting import reported, with_unit
from tools.report.figures import Coverage, Period, PlanSeries, ReportData, WaterMonth, target_text

# Families with the simplified Chinese glyphs, most preferred first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
_CJK_FILE_HINTS = ("cjk", "wqy", "sourcehan", "droidsansfallback")

TITLE = "吴江区规划指标评估报告 · Plan evaluation report"
HEADINGS = {
    "headlines": "主要结论 · Headline figures",
    "pm25": "细颗粒物（PM2.5）年均浓度 · PM2.5 annual mean",
    "attainment": "各站点达标预测 · Attainment projection by station",
    "exceedance": "超标天数 · Exceedance days",
    "good_days": "空气质量优良天数比例 · Good-day share",
    "water": "地表水断面水质类别 · Water sections by class",
    "plan": "规划目标完成情况 · Plan targets",
    "alerts": "期间告警 · Alerts in the period",
}
HTML_NAME = "index.html"
PDF_NAME = "report.pdf"

HISTORICAL = " (历史 · historical: backfilled data, nobody was paged)"
NOT_INCLUDED = "未纳入 · not included"
PROVISIONAL = "月初至今，暂定 · month to date, provisional"


class MissingCJKFontError(RuntimeError):
    """No font with Chinese glyphs is installed: the plots would show empty boxes instead of Chinese text."""


def cjk_font() -> str:
    """The family name of an installed CJK font; looks in matplotlib's font list, then on the system (a font
    installed after matplotlib built its cache is not in its list yet)."""
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
            font_manager.fontManager.addfont(path)
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    raise MissingCJKFontError(
        "no CJK font found, so Chinese text cannot be drawn; install one: `apt-get install fonts-noto-cjk` "
        f"(`citywatch stack install` does), or any of: {', '.join(CJK_FAMILIES)}"
    )


@contextmanager
def _fonts(cjk: str) -> Iterator[None]:
    with matplotlib.rc_context({"font.family": ["DejaVu Sans", cjk], "axes.unicode_minus": False}):
        yield


@dataclass(frozen=True)
class Rendered:
    html: Path
    pdf: Path | None
    images: list[str] = field(default_factory=list)


Progress = Callable[[str], None]
"""Called after each rendering step with what was done (the CLI advances its progress bar)."""


def render_steps(data: ReportData, pdf: bool = True) -> int:
    """How many times `render` calls its `progress`: one per plot, the HTML and the PDF."""
    return 5 + len(data.plan) + 1 + pdf


def render(data: ReportData, out_dir: Path, progress: Progress | None = None, *, pdf: bool = True) -> Rendered:
    """Write index.html, report.pdf (unless `pdf` is False) and their PNGs into `out_dir`."""
    step = progress or (lambda _: None)
    cjk = cjk_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    charts: list[tuple[str, str, Callable[[], Figure]]] = [
        ("pm25", "pm25_trend.png", lambda: _pm25_trend(data)),
        ("attainment", "pm25_attainment.png", lambda: _attainment(data)),
        ("exceedance", "exceedance_days.png", lambda: _exceedance(data)),
        ("good_days", "good_day_share.png", lambda: _good_days(data)),
        ("water", "water_classes.png", lambda: _water(data)),
    ]
    images: dict[str, str] = {}
    plan_images: list[str] = []
    with _fonts(cjk):
        for key, name, draw in charts:
            images[key] = _save(draw(), out_dir, name)
            step(name)
        for series in data.plan:
            name = f"plan_{series.indicator.id.replace('.', '_')}.png"
            plan_images.append(_save(_plan(series, data), out_dir, name))
            step(name)
    index = out_dir / HTML_NAME
    index.write_text(html(data, images, plan_images, cjk), encoding="utf-8")
    step(HTML_NAME)
    written = out_dir / PDF_NAME
    if pdf:
        write_pdf(index, written)
        step(PDF_NAME)
    return Rendered(index, written if pdf else None, [*images.values(), *plan_images])


def write_pdf(index: Path, pdf: Path) -> Path:
    """The HTML as a PDF (A4, print styles of report.css), its PNGs embedded."""
    import weasyprint  # takes most of a second to import: only when a report is written

    weasyprint.HTML(filename=str(index), base_url=str(index.parent)).write_pdf(str(pdf))
    return pdf


# --- words shared by the HTML and the tests ------------------------------------------------------------------------


def _day(day: dt.date | None) -> str:
    return "—" if day is None else day.isoformat()


def day_ranges(days: Sequence[dt.date]) -> str:
    """Days as runs: "2026-12-02 → 2026-12-04, 2026-12-07"."""
    runs = consecutive_runs(days, lambda d: d + dt.timedelta(days=1))
    return ", ".join(a.isoformat() if a == b else f"{a.isoformat()} → {b.isoformat()}" for a, b in runs)


def _period_text(period: Period) -> str:
    return f"{period.start.isoformat()} → {period.end.isoformat()}"


def _coverage(cov: Coverage, period: Period, what: str) -> tuple[str, list[str]]:
    """(what the section covers, why days are missing) for a section of daily values."""
    if cov.present:
        covers = f"{what}: {len(cov.present)} / {period.days} 天 · days ({day_ranges(cov.present)})"
    else:
        covers = f"{what}: 0 / {period.days} 天 · days"
    missing = []
    if cov.missing:
        missing.append(f"期间无读数 · no readings for {day_ranges(cov.missing)}")
    if cov.not_over:
        missing.append(f"读取数据时尚未结束 · not over when the data was read: {day_ranges(cov.not_over)}")
    return covers, missing


def _ytd_span(period: Period, as_of: dt.date | None) -> str:
    if as_of is None:
        return "年初至今 · year to date"
    return f"年初至今 · year to date, {as_of.year}-01-01 → {as_of.isoformat()}"


def _pct(value: float | None) -> str:
    return "—" if value is None else reported(value, "ratio")


def plan_value(series: PlanSeries, plotted: float) -> str:
    """A plan series' value at the reporting precision of its record ("35.1 %", "2,172 t/day", "680 t")."""
    if series.unit == "%":
        return reported(plotted / series.scale, "ratio")
    if series.indicator.window == "ytd":
        return with_unit(plotted, series.indicator.unit)  # tonnes so far this year, not a rate per year
    return with_unit(plotted, series.unit)


def capacity_use(series: PlanSeries, site: str) -> str:
    """A capacity series' latest value as utilisation: "72.4 % of capacity (3,000 t/day)"."""
    points = series.utilisation.get(site, [])
    if not points:
        return "—"
    on, share = points[-1]
    pro_rata = f", pro rata to {on.isoformat()}" if series.target.unit == "t/year" else ""
    return f"能力利用率 · {reported(share, 'ratio')} of capacity ({with_unit(float(series.target.value), series.unit)}{pro_rata})"


def headlines(data: ReportData) -> list[tuple[str, str, str]]:
    """(key, label, formatted value) of each headline figure."""
    target = data.pm25_target
    on_track = sum(1 for s in data.stations if s.attainment == "on-track")
    pm25_days = sum(s.exceedance_days.get("pm25", 0) for s in data.stations)
    o3_days = sum(s.exceedance_days.get("o3", 0) for s in data.stations)
    as_of = max((s.as_of for s in data.stations), default=None)
    ytd = f"年初至今，截至 {_day(as_of)} · year to date, as of {_day(as_of)}"
    mean = data.city_pm25_period_mean
    water = _pct(data.water_target_met_share)
    if data.water_share_provisional:
        water += f" ({PROVISIONAL})"
    good_day_as_of = data.good_day_share[-1][0] if data.good_day_share else None
    fired = data.alerts_fired
    past = data.historical_incidents
    return [
        ("pm25_period_mean", "全区 PM2.5 期间日均值 · District PM2.5, mean of the period's daily means",
         "— (期间无读数 · no readings for the period)" if mean is None else with_unit(mean, "µg/m³")),
        ("pm25_target", "PM2.5 年均目标 · PM2.5 annual target", f"{target_text(target)} ({target.quote})"),
        ("stations_on_track", f"预测达标站点 · Stations on track for the target ({ytd})",
         f"{on_track} / {len(data.stations)}"),
        ("pm25_exceedance_days", f"PM2.5 超标站日 · PM2.5 exceedance station-days ({ytd})", str(pm25_days)),
        ("o3_exceedance_days", f"O₃ 超标站日 · O₃ exceedance station-days ({ytd})", str(o3_days)),
        ("good_day_share", f"优良天数比例 · Good-day share (年初至今，截至 {_day(good_day_as_of)} · year to date, "
         f"as of {_day(good_day_as_of)})", _pct(data.good_day_share_latest)),
        ("water_target_met", "断面月度达标比例 · Section-months meeting their target class", water),
        ("alerts_fired", "期间触发告警 · Alerts fired in the period",
         f"{NOT_INCLUDED} (no alerts topic read)" if fired is None else str(fired)),
        ("historical_incidents", "历史事件（补录数据） · Historical incidents found in backfilled data",
         f"{NOT_INCLUDED} (no alerts topic read)" if past is None else str(past)),
    ]  # fmt: skip


# --- plots ------------------------------------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Axes]:
    # Figure without pyplot: no global state and no GUI backend; savefig draws with Agg.
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    fig.savefig(out_dir / name, dpi=110)
    return name


_EPOCH = dt.date(1970, 1, 1)  # a day number is the days since it


def _x(days: Sequence[dt.date]) -> list[float]:
    """Dates as day numbers (`_date_axis` labels them as dates)."""
    return [float((day - _EPOCH).days) for day in days]


def _date_ticks(period: Period) -> tuple[list[dt.date], str]:
    """Tick days and their format: days for up to two months, months up to three years, else years."""
    if period.days <= 62:
        return period.each_day()[:: math.ceil(period.days / 12)], "%m-%d"
    if period.days <= 3 * 366:
        months = [dt.date.fromisoformat(f"{m}-01") for m in period.months()]
        return [d for d in months if d >= period.start][:: math.ceil(len(months) / 12)], "%Y-%m"
    return [dt.date(y, 1, 1) for y in range(period.start.year + 1, period.end.year + 1)], "%Y"


def _date_axis(ax: Axes, period: Period) -> None:
    """An x axis spanning exactly the period (half a day either side of its first and last day)."""
    first, last = _x([period.start, period.end])
    ax.set_xlim(first - 0.5, last + 0.5)
    ticks, form = _date_ticks(period)
    ax.xaxis.set_major_locator(FixedLocator(_x(ticks)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: (_EPOCH + dt.timedelta(days=round(x))).strftime(form)))
    ax.tick_params(axis="x", labelrotation=30)


def _no_data(ax: Axes, why: str = "期间无数据 · no data in the period") -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="#7f8c8d")


def _line(ax: Axes, points: Sequence[tuple[dt.date, float]], text: Callable[[float], str], **style: Any) -> None:
    """A series over the period; a lone value gets a marker and its label instead of an invisible line."""
    xs, ys = _x([d for d, _ in points]), [v for _, v in points]
    if len(points) == 1:
        ax.plot(xs, ys, marker="o", markersize=7, linestyle="none", **style)
        ax.annotate(
            f"期间仅此一值 · the period's only value: {points[0][0].isoformat()} {text(ys[0])}",
            (xs[0], ys[0]), textcoords="offset points", xytext=(8, 8), fontsize=8,
        )  # fmt: skip
    else:
        ax.plot(xs, ys, marker="." if len(points) <= 62 else None, **style)


def _pm25_trend(data: ReportData) -> Figure:
    fig, ax = _figure()
    target = float(data.pm25_target.value)
    if data.city_pm25_daily:
        values = [v for _, v in data.city_pm25_daily]
        running = [sum(values[: i + 1]) / (i + 1) for i in range(len(values))]
        days = [d for d, _ in data.city_pm25_daily]
        ug = lambda v: with_unit(v, "µg/m³")  # noqa: E731
        _line(ax, data.city_pm25_daily, ug, color="#7f8c8d", linewidth=1, label="全区日均值 · district daily mean")
        if len(days) > 1:
            _line(ax, list(zip(days, running, strict=True)), ug, color="#c0392b", linewidth=2,
                  label="期间累计均值 · running mean of the period")  # fmt: skip
    else:
        _no_data(ax, "期间无读数 · no readings for the period")
    in_force = data.pm25_target_by_day
    if len({v for _, v in in_force}) == 1:
        ax.axhline(target, color="#27ae60", linestyle="--", label=f"年均目标 · annual target {target:g} µg/m³")
    else:  # the period spans a change of GB 3095: each day's target
        changes = " → ".join(f"{v:g}" for i, (_, v) in enumerate(in_force) if i == 0 or v != in_force[i - 1][1])
        ax.plot(
            _x([d for d, _ in in_force]), [v for _, v in in_force], color="#27ae60", linestyle="--", drawstyle="steps-post",
            label=f"年均目标（按日期）· annual target in force, {changes} µg/m³",
        )  # fmt: skip
    ax.set_title(f"PM2.5 日均浓度与年均目标 · PM2.5 daily mean, {_period_text(data.period)}")
    ax.set_ylabel("µg/m³")
    ax.legend(loc="upper right", fontsize=8)
    _date_axis(ax, data.period)
    return fig


_STATUS_COLOURS = {"on-track": "#27ae60", "at-risk": "#f39c12", "off-track": "#c0392b"}


def _as_of(data: ReportData) -> str:
    return _day(max((s.as_of for s in data.stations), default=None))


def _attainment(data: ReportData) -> Figure:
    fig, ax = _figure()
    stations = [s for s in data.stations if s.projection is not None]
    if stations:
        xs = range(len(stations))
        colours = [_STATUS_COLOURS.get(s.attainment or "", "#95a5a6") for s in stations]
        ax.bar(xs, [s.projection or 0 for s in stations], color=colours, label="年均预测 · projected annual mean")
        required = [(i, s.required_mean) for i, s in enumerate(stations) if s.required_mean is not None]
        if required:
            ax.scatter(
                [i for i, _ in required], [v for _, v in required], marker="_", s=400, color="#2c3e50",
                label="剩余时段需达到的均值 · mean required for the rest of the year",
            )  # fmt: skip
        ax.set_xticks(list(xs), [data.label(s.site) for s in stations], rotation=20, fontsize=8)
    else:
        _no_data(ax, "期间无站点数据 · no station figures in the period")
    ax.axhline(float(data.pm25_target.value), color="#27ae60", linestyle="--", label="年均目标 · annual target")
    ax.set_title(f"PM2.5 年均浓度达标预测 · projection by station, as of {_as_of(data)}")
    ax.set_ylabel("µg/m³")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def _exceedance(data: ReportData) -> Figure:
    fig, ax = _figure()
    if data.stations:
        xs = list(range(len(data.stations)))
        pm25 = [s.exceedance_days.get("pm25", 0) for s in data.stations]
        o3 = [s.exceedance_days.get("o3", 0) for s in data.stations]
        ax.bar([x - 0.2 for x in xs], pm25, width=0.4, label="PM2.5 超标天数 · days above the 24 h limit")
        ax.bar([x + 0.2 for x in xs], o3, width=0.4, label="O₃ 超标天数 · days above the 8 h limit")
        ax.set_xticks(xs, [data.label(s.site) for s in data.stations], rotation=20, fontsize=8)
        ax.set_ylim(0, max([*pm25, *o3, 4]) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax, "期间无站点数据 · no station figures in the period")
    ax.set_title(f"年初至今超标天数（GB 3095 二级） · exceedance days this year, as of {_as_of(data)}")
    ax.set_ylabel("天 · days")
    return fig


def _good_days(data: ReportData) -> Figure:
    fig, ax = _figure()
    if data.good_day_share:
        points = [(d, v * 100) for d, v in data.good_day_share]
        _line(ax, points, lambda v: reported(v / 100, "ratio"), color="#2980b9",
              label="年初至今（每日末） · year to date at the end of each day")  # fmt: skip
        ax.set_ylim(0, 105)
        ax.legend(loc="lower right", fontsize=8)
    else:
        _no_data(ax, "期间无读数 · no readings for the period")
    ax.set_title(f"全区优良天数比例（年初至今） · district good-day share, {_period_text(data.period)}")
    ax.set_ylabel("%")
    _date_axis(ax, data.period)
    return fig


def _month_tick(m: WaterMonth) -> str:
    return f"{m.month}\n(暂定 · provisional)" if m.provisional else m.month


def _water(data: ReportData) -> Figure:
    fig, ax = _figure()
    months = data.water_months
    xs = list(range(len(months)))
    if any(m.sections for m in months):
        bottom = [0] * len(months)
        for water_class in WaterClass:
            counts = [m.classes.get(water_class.label, 0) for m in months]
            if any(counts):
                ax.bar(
                    xs, counts, bottom=bottom, color=water_class.colour,
                    label=f"{water_class.label} 类 · class {water_class.label}", edgecolor="#555555", linewidth=0.5,
                    hatch=["//" if m.provisional else "" for m in months],
                )  # fmt: skip
                bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        for x, m in zip(xs, months, strict=True):
            if not m.sections:
                ax.text(x, 0.1, "无监测数据\nno samples", ha="center", va="bottom", fontsize=7, color="#7f8c8d")
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax, "期间各月无监测数据 · no samples in the months of the period")
    ax.set_xticks(xs, [_month_tick(m) for m in months], fontsize=8 if len(months) <= 6 else 7)
    pad = max(0.0, (4 - len(months)) / 2)  # a month or two would otherwise be drawn as one page-wide bar
    ax.set_xlim(-0.6 - pad, len(months) - 0.4 + pad)
    ax.set_title("各月断面水质类别（GB 3838-2002；斜线：月初至今，暂定） · sections by class per month")
    ax.set_ylabel("断面数 · sections")
    return fig


def _plan(series: PlanSeries, data: ReportData) -> Figure:
    fig, ax = _figure()
    if series.capacity:
        capacity = with_unit(float(series.target.value), series.unit)
        for site, points in sorted(series.utilisation.items()):
            _line(ax, [(d, u * 100) for d, u in points], lambda v: reported(v / 100, "ratio"),
                  label=data.names.get(site, site))  # fmt: skip
        ax.axhline(100, color="#7f8c8d", linestyle="--", label=f"设计处理能力 · capacity {capacity} = 100 %")
        peak = max((u for points in series.utilisation.values() for _, u in points), default=1.0)
        ax.set_ylim(0, max(110.0, peak * 110))
        ax.set_ylabel("能力利用率 · utilisation, %")
        ax.set_title(f"{series.target.quote} · {series.indicator.id}: utilisation of capacity")
    else:
        for site, points in sorted(series.series.items()):
            _line(ax, points, lambda v: plan_value(series, v), label=data.names.get(site, site))
        target = float(series.target.value)
        ax.axhline(
            target, color="#27ae60", linestyle="--", label=f"规划目标 · plan target {target_text(series.target)}"
        )
        ax.set_ylabel(series.unit)
        ax.set_title(f"{series.target.quote} · {series.indicator.id}")
    ax.legend(loc="best", fontsize=8)
    _date_axis(ax, data.period)
    return fig


# --- HTML ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """What a section of the report covers, and why anything is missing from it."""

    id: str
    heading: str
    covers: str
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    image: str | None = None


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tools.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html(data: ReportData, images: Mapping[str, str], plan_images: Sequence[str], cjk: str = "") -> str:
    """The report's HTML (templates/report.html.j2); the PDF is printed from it."""
    return _ENV.get_template("report.html.j2").render(
        title=TITLE,
        period=_period_text(data.period),
        period_days=data.period.days,
        read_at=shown(data.as_of, data.as_of.tzinfo or dt.UTC) if data.as_of else "",
        period_over=data.period_over,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cjk=cjk,
        headlines=headlines(data),
        sections=_sections(data, images),
        stations=_station_rows(data),
        water_classes=[c.label for c in WaterClass],
        water_rows=_water_rows(data),
        plan_rows=_plan_rows(data),
        plan_figures=list(zip(plan_images, [s.indicator.id for s in data.plan], strict=True)),
        alerts_read=data.alerts_read,
        alert_rows=_alert_rows(data),
    )


def _sections(data: ReportData, images: Mapping[str, str]) -> dict[str, Section]:
    period = data.period
    station_as_of = max((s.as_of for s in data.stations), default=None)
    ytd = _ytd_span(period, station_as_of)
    no_stations = [] if data.stations else ["期间无站点数据 · no station figures in the period: no readings"]
    pm25_covers, pm25_missing = _coverage(data.city_pm25_coverage, period, "全区日均值 · district daily means")
    good_covers, good_missing = _coverage(
        data.good_day_coverage, period, "图：每日末的年初至今值 · chart: the year-to-date value at the end of each day"
    )
    good_notes = [f"{_ytd_span(period, data.good_day_coverage.last)}（按日历年 · by calendar year）"]
    if len(data.good_day_share) == 1:
        good_notes.append("期间仅一个值 · only one value in the period: drawn as a single marker")
    return {
        "headlines": Section(
            "headlines", HEADINGS["headlines"],
            f"评估期 · period {_period_text(period)}; 年初至今指标截至期内最后有数据之日 · year-to-date figures as of "
            "the period's last day with data",
        ),
        "pm25": Section("pm25", HEADINGS["pm25"], pm25_covers, pm25_missing, image=images.get("pm25")),
        "attainment": Section(
            "attainment", HEADINGS["attainment"], f"{ytd}; 各站截至期内最后有数据之日 · each station as of its last "
            "day in the period with data", no_stations, image=images.get("attainment"),
        ),
        "exceedance": Section("exceedance", HEADINGS["exceedance"], ytd, no_stations, image=images.get("exceedance")),
        "good_days": Section(
            "good_days", HEADINGS["good_days"], good_covers, good_missing, good_notes, images.get("good_days")
        ),
        "water": _water_section(data, images.get("water")),
        "plan": _plan_section(data),
        "alerts": _alerts_section(data),
    }  # fmt: skip


def _water_section(data: ReportData, image: str | None) -> Section:
    months = data.water_months
    running = [m.month for m in months if m.provisional]
    span = months[0].month if len(months) == 1 else f"{months[0].month} → {months[-1].month}"
    covers = (
        f"月份 · months the period touches: {span} ({len(months)}); 整月 · complete: {len(months) - len(running)}"
        + (f"; {PROVISIONAL}: {', '.join(running)}" if running else "")
    )
    missing, notes = [], []
    for m in months:
        if not m.sections:
            missing.append(f"{m.month}: 无监测数据 · no samples for the month")
            continue
        if m.provisional:
            why = (
                f"the month goes on after the period (to {m.last.isoformat()})"
                if m.last > data.period.end
                else "the month was not over when the data was read"
            )
            notes.append(
                f"{m.month}: {PROVISIONAL} — {why}; classes from the samples to date, {m.sections} sections. "
                "GB 3838 classes a section by the month's mean: the final class may differ."
            )
        elif not (data.period.start <= m.first and m.last <= data.period.end):
            notes.append(
                f"{m.month}: 整月 · the whole month ({m.first.isoformat()} → {m.last.isoformat()}): a monthly class "
                "covers the days of the month outside the period too"
            )
        if m.insufficient:
            notes.append(
                f"{m.month}: {m.insufficient} 个断面样本不足 · sections with fewer samples than a monthly class needs "
                "(shown, not judged against their target)"
            )
    if data.water_share_provisional:
        notes.append(f"达标比例为月初至今 · the share meeting the target is {PROVISIONAL}: no month is complete")
    return Section("water", HEADINGS["water"], covers, missing, notes, image)


def _plan_section(data: ReportData) -> Section:
    if not data.plan:
        return Section(
            "plan", HEADINGS["plan"], _period_text(data.period), ["期间无规划指标数据 · no readings for the period"]
        )
    notes = []
    for s in data.plan:
        days = sorted({d for points in s.series.values() for d, _ in points})
        what = (
            "年初至今，每日末的值 · year to date, as it stood at the end of each day"
            if s.indicator.window == "ytd"
            else "日值 · daily values"
        )
        notes.append(f"{s.indicator.id}: {what}, {len(days)} / {data.period.days} 天 · days ({day_ranges(days)})")
        if s.capacity:
            notes.append(
                f"{s.indicator.id}: {with_unit(float(s.target.value), s.unit)} 是处理能力 · is a capacity "
                f"({s.target.quote}), not an amount to treat: tonnage is shown as utilisation of capacity"
            )
    covers = f"期间内有数据之日 · the days of {_period_text(data.period)} with data"
    return Section("plan", HEADINGS["plan"], covers, notes=notes)


def _alerts_section(data: ReportData) -> Section:
    if not data.alerts_read:
        return Section(
            "alerts", HEADINGS["alerts"], f"{NOT_INCLUDED}: 未读取告警主题 · no alerts topic was read",
            ["give `citywatch report --alerts-topic <prefix>.alerts` to list the period's alerts"],
        )  # fmt: skip
    covers = (
        f"事件时间在期内当地日期的告警变化 · alert transitions with an event time on a local day of "
        f"{_period_text(data.period)}: {len(data.alerts)}"
    )
    missing = [] if data.alerts else ["期间无告警 · no alert transitions in the period"]
    return Section("alerts", HEADINGS["alerts"], covers, missing)


def _num(value: float | None, unit: str) -> str:
    return "—" if value is None else reported(value, unit)


def _station_rows(data: ReportData) -> list[list[str]]:
    return [
        [
            data.label(s.site),
            _num(s.annual_mean, "µg/m³"),
            s.annual_status or "—",
            _num(s.projection, "µg/m³"),
            s.attainment or "—",
            _num(s.required_mean, "µg/m³"),
            str(s.exceedance_days.get("pm25", 0)),
            str(s.exceedance_days.get("o3", 0)),
            s.as_of.isoformat(),
        ]
        for s in data.stations
    ]


def _water_rows(data: ReportData) -> list[dict[str, Any]]:
    return [
        {
            "month": m.month,
            "provisional": m.provisional,
            "counts": [m.classes.get(c.label, 0) for c in WaterClass],
            "met": f"{m.met} / {m.assessed}" if m.assessed else "—",
            "good_iii": _pct(m.good_iii),
        }
        for m in data.water_months
    ]


def _plan_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for s in data.plan:
        year_to_date = s.indicator.window == "ytd"
        for site, value in sorted(s.latest.items()):
            on = s.series[site][-1][0]
            if s.capacity:
                target, verdict = (
                    f"设计处理能力 · capacity {with_unit(float(s.target.value), s.unit)}",
                    capacity_use(s, site),
                )
            else:
                target = target_text(s.target)
                verdict = s.verdict[site] + (
                    " (年初至今 · year to date, provisional)" if year_to_date and (on.month, on.day) != (12, 31) else ""
                )
            latest = f"{plan_value(s, value)} ({on.isoformat()})"
            rows.append([s.target.quote, s.indicator.id, data.label(site), latest, target, verdict])
    return rows


def _alert_rows(data: ReportData) -> list[list[str]]:
    return [
        [
            shown(a.at, a.at.tzinfo or dt.UTC),
            a.status + (HISTORICAL if a.historical else ""),
            a.rule_id,
            data.label(a.site),
            a.severity,
            a.value,
            a.threshold,
        ]
        for a in data.alerts
    ]
