"""Render the report: PNG plots (matplotlib, headless) and one index.html, in Chinese and English.

Chinese text needs a CJK font: matplotlib's default (DejaVu Sans) has no Chinese glyphs and would draw empty boxes.
`cjk_font()` finds one (fonts-noto-cjk, installed by `citywatch stack install`) and the plots use it as the fallback
family after DejaVu Sans, so Latin text and numbers keep DejaVu and every Chinese character comes from the CJK font.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from citywatch.report.figures import PlanSeries, ReportData
from citywatch.standards.gb3838 import WaterClass

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


def render(data: ReportData, out_dir: Path) -> Path:
    """Write index.html and its PNGs into `out_dir`; returns the path of index.html."""
    cjk = cjk_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    with _fonts(cjk):
        images = {
            "pm25": _save(_pm25_trend(data), out_dir, "pm25_trend.png"),
            "attainment": _save(_attainment(data), out_dir, "pm25_attainment.png"),
            "exceedance": _save(_exceedance(data), out_dir, "exceedance_days.png"),
            "good_days": _save(_good_days(data), out_dir, "good_day_share.png"),
            "water": _save(_water(data), out_dir, "water_classes.png"),
        }
        plan_images = [
            _save(_plan(series, data.names), out_dir, f"plan_{series.indicator.id.replace('.', '_')}.png")
            for series in data.plan
        ]
    index = out_dir / "index.html"
    index.write_text(_html(data, images, plan_images), encoding="utf-8")
    return index


# --- headline figures: one place, used by the HTML and checked by the tests ------------------------------------------


def headlines(data: ReportData) -> list[tuple[str, str, str]]:
    """(key, label, formatted value) of each headline figure."""
    target = data.pm25_target
    on_track = sum(1 for s in data.stations if s.attainment == "on-track")
    pm25_days = sum(s.exceedance_days.get("pm25", 0) for s in data.stations)
    o3_days = sum(s.exceedance_days.get("o3", 0) for s in data.stations)
    return [
        ("pm25_period_mean", "全区 PM2.5 期间日均值 · District PM2.5, mean of the period's daily means",
         _num(data.city_pm25_period_mean, 1, " µg/m³")),
        ("pm25_target", "PM2.5 年均目标 · PM2.5 annual target", f"≤ {target.value} {target.unit} ({target.quote})"),
        ("stations_on_track", "预测达标站点 · Stations on track for the target", f"{on_track} / {len(data.stations)}"),
        ("pm25_exceedance_days", "PM2.5 超标站日（年初至今） · PM2.5 exceedance station-days, year to date", str(pm25_days)),
        ("o3_exceedance_days", "O₃ 超标站日（年初至今） · O₃ exceedance station-days, year to date", str(o3_days)),
        ("good_day_share", "优良天数比例（年初至今） · Good-day share, year to date", _num(_pct(data.good_day_share_latest), 1, " %")),
        ("water_target_met", "断面月度达标比例 · Section-months meeting their target class", _num(_pct(data.water_target_met_share), 1, " %")),
        ("alerts_fired", "期间触发告警 · Alerts fired in the period", str(data.alerts_fired)),
        ("historical_incidents", "历史事件（补录数据） · Historical incidents found in backfilled data", str(data.historical_incidents)),
    ]  # fmt: skip


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def _num(value: float | None, digits: int, unit: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


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


_EPOCH = dt.date(1970, 1, 1)  # matplotlib's default date epoch: a date number is days since it


def _x(days: Sequence[dt.date]) -> list[float]:
    """Dates as matplotlib's date numbers (`_dates` makes the axis show them as dates)."""
    return [float((day - _EPOCH).days) for day in days]


def _dates(ax: Axes) -> None:
    ax.xaxis_date()
    ax.tick_params(axis="x", labelrotation=30)


def _no_data(ax: Axes) -> None:
    ax.text(0.5, 0.5, "期间无数据 · no data in the period", ha="center", va="center", transform=ax.transAxes)


def _pm25_trend(data: ReportData) -> Figure:
    fig, ax = _figure()
    target = float(data.pm25_target.value)
    if data.city_pm25_daily:
        days = [d for d, _ in data.city_pm25_daily]
        values = [v for _, v in data.city_pm25_daily]
        running = [sum(values[: i + 1]) / (i + 1) for i in range(len(values))]
        ax.plot(_x(days), values, color="#7f8c8d", linewidth=1, label="全区日均值 · district daily mean")
        ax.plot(_x(days), running, color="#c0392b", linewidth=2, label="期间累计均值 · running mean of the period")
    else:
        _no_data(ax)
    ax.axhline(target, color="#27ae60", linestyle="--", label=f"年均目标 · annual target {target:g} µg/m³")
    ax.set_title("PM2.5 日均浓度与年均目标 · PM2.5 daily mean against the annual target")
    ax.set_ylabel("µg/m³")
    ax.legend(loc="upper right", fontsize=8)
    _dates(ax)
    return fig


_STATUS_COLOURS = {"on-track": "#27ae60", "at-risk": "#f39c12", "off-track": "#c0392b"}


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
        _no_data(ax)
    ax.axhline(float(data.pm25_target.value), color="#27ae60", linestyle="--", label="年均目标 · annual target")
    ax.set_title("PM2.5 年均浓度达标预测（绿：可达标，橙：有风险，红：难达标） · projection by station")
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
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax)
    ax.set_title("年初至今超标天数（GB 3095 二级） · exceedance days this year (GB 3095 Grade II)")
    ax.set_ylabel("天 · days")
    return fig


def _good_days(data: ReportData) -> Figure:
    fig, ax = _figure()
    if data.good_day_share:
        ax.plot(_x([d for d, _ in data.good_day_share]), [v * 100 for _, v in data.good_day_share], color="#2980b9")
        ax.set_ylim(0, 105)
    else:
        _no_data(ax)
    ax.set_title("全区优良天数比例（年初至今） · district good-day share, year to date")
    ax.set_ylabel("%")
    _dates(ax)
    return fig


def _water(data: ReportData) -> Figure:
    fig, ax = _figure()
    months = list(data.water_classes)
    if months:
        bottom = [0] * len(months)
        for water_class in WaterClass:
            counts = [data.water_classes[m].get(water_class.label, 0) for m in months]
            if any(counts):
                ax.bar(
                    months, counts, bottom=bottom, color=water_class.colour,
                    label=f"{water_class.label} 类 · class {water_class.label}", edgecolor="#555555", linewidth=0.5,
                )  # fmt: skip
                bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax)
    ax.set_title("各月断面水质类别（GB 3838-2002） · sections by class per month")
    ax.set_ylabel("断面数 · sections")
    return fig


def _plan(series: PlanSeries, names: Mapping[str, str]) -> Figure:
    fig, ax = _figure()
    for site, points in sorted(series.series.items()):
        ax.plot(
            _x([d for d, _ in points]),
            [v for _, v in points],
            marker="." if len(points) < 40 else None,
            label=names.get(site, site),
        )
    target = float(series.target.value)
    ax.axhline(target, color="#27ae60", linestyle="--", label=f"规划目标 · plan target {target:g} {series.unit}")
    ax.set_title(f"{series.target.quote} · {series.indicator.id}")
    ax.set_ylabel(series.unit)
    ax.legend(loc="best", fontsize=8)
    _dates(ax)
    return fig


# --- HTML ---------------------------------------------------------------------------------------------------------------


def _html(data: ReportData, images: dict[str, str], plan_images: Sequence[str]) -> str:
    e = html.escape
    period = f"{data.period.start.isoformat()} — {data.period.end.isoformat()}"
    rows = "\n".join(
        f'<tr data-key="{e(key)}"><th>{e(label)}</th><td>{e(value)}</td></tr>' for key, label, value in headlines(data)
    )
    stations = "\n".join(
        f"<tr><td>{e(data.label(s.site))}</td><td>{_num(s.annual_mean, 1)}</td><td>{e(s.annual_status or '—')}</td>"
        f"<td>{_num(s.projection, 1)}</td><td>{e(s.attainment or '—')}</td><td>{_num(s.required_mean, 1)}</td>"
        f"<td>{s.exceedance_days.get('pm25', 0)}</td><td>{s.exceedance_days.get('o3', 0)}</td>"
        f"<td>{s.as_of.isoformat()}</td></tr>"
        for s in data.stations
    )
    water_rows = "\n".join(
        f"<tr><td>{e(month)}</td>"
        + "".join(f"<td>{data.water_classes.get(month, {}).get(c.label, 0)}</td>" for c in WaterClass)
        + f"<td>{data.water_target_met.get(month, (0, 0))[0]} / {data.water_target_met.get(month, (0, 0))[1]}</td></tr>"
        for month in sorted(set(data.water_classes) | set(data.water_target_met))
    )
    plan_rows = "\n".join(
        f"<tr><td>{e(s.target.quote)}</td><td>{e(s.indicator.id)}</td><td>{e(data.label(site))}</td>"
        f"<td>{value:.2f} {e(s.unit)}</td><td>{e(_target_text(s))}</td><td>{e(s.verdict[site])}</td></tr>"
        for s in data.plan
        for site, value in sorted(s.latest.items())
    )
    alert_rows = "\n".join(
        f"<tr><td>{a.at.isoformat()}</td><td>{e(a.status)}{HISTORICAL if a.historical else ''}</td>"
        f"<td>{e(a.rule_id)}</td><td>{e(data.label(a.site))}</td>"
        f"<td>{e(a.severity)}</td><td>{e(a.value)}</td><td>{e(a.threshold)}</td></tr>"
        for a in data.alerts
    )
    plan_figures = "\n".join(f'<img src="{e(name)}" alt="{e(name)}">' for name in plan_images)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    class_heads = "".join(f"<th>{e(c.label)}</th>" for c in WaterClass)
    no_alerts = (
        "" if data.alerts else "<p>期间无告警 · no alert transitions in the period (or no alerts topic given).</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(TITLE)} {e(period)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 2em auto; max-width: 1000px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; font-size: 14px; }}
img {{ max-width: 100%; display: block; margin: 1em 0; }}
</style>
</head>
<body>
<h1>{e(TITLE)}</h1>
<p>评估期 · Period: {e(period)}（按当地日期 · by local date）. 生成 · generated {generated}.</p>
<h2 id="headlines">{e(HEADINGS["headlines"])}</h2>
<table class="headlines">
{rows}
</table>
<h2 id="pm25">{e(HEADINGS["pm25"])}</h2>
<img src="{images["pm25"]}" alt="PM2.5">
<h2 id="attainment">{e(HEADINGS["attainment"])}</h2>
<img src="{images["attainment"]}" alt="attainment">
<table>
<tr><th>站点 · station</th><th>年均值 · annual mean</th><th>状态 · status</th><th>预测 · projection</th>
<th>达标 · attainment</th><th>剩余需达 · required mean</th><th>PM2.5 超标天 · days</th><th>O₃ 超标天 · days</th>
<th>截至 · as of</th></tr>
{stations}
</table>
<h2 id="exceedance">{e(HEADINGS["exceedance"])}</h2>
<img src="{images["exceedance"]}" alt="exceedance days">
<h2 id="good_days">{e(HEADINGS["good_days"])}</h2>
<img src="{images["good_days"]}" alt="good-day share">
<h2 id="water">{e(HEADINGS["water"])}</h2>
<img src="{images["water"]}" alt="water classes">
<table>
<tr><th>月份 · month</th>{class_heads}<th>达标断面 · meeting target</th></tr>
{water_rows}
</table>
<h2 id="plan">{e(HEADINGS["plan"])}</h2>
<table>
<tr><th>规划表述 · plan</th><th>指标 · indicator</th><th>对象 · site</th><th>最新值 · latest</th><th>目标 · target</th>
<th>判断 · verdict</th></tr>
{plan_rows}
</table>
{plan_figures}
<h2 id="alerts">{e(HEADINGS["alerts"])}</h2>
{no_alerts}
<table>
<tr><th>时间 · event time</th><th>状态 · status</th><th>规则 · rule</th><th>对象 · site</th><th>级别 · severity</th>
<th>值 · value</th><th>阈值 · threshold</th></tr>
{alert_rows}
</table>
</body>
</html>
"""


HISTORICAL = " (历史 · historical: backfilled data, nobody was paged)"


def _target_text(series: PlanSeries) -> str:
    signs = {"at_least": ">" if series.target.strict else "≥", "at_most": "<" if series.target.strict else "≤"}
    return f"{signs.get(series.target.direction, '≈')} {series.target.value} {series.unit}"
