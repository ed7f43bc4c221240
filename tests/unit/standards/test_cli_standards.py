"""The CLI contracts of issue 3 item 6: `citywatch aqi` and `citywatch water-class` (JSON on stdout; exit 2 naming
the argument on unknown names or negative values)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tools.cli.standards import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _json(runner: CliRunner, app: typer.Typer, *args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert isinstance(out, dict)
    return out


def test_aqi_2026(runner: CliRunner, app: typer.Typer) -> None:
    out = _json(runner, app, "aqi", "--at", "2026-05-01T10:00:00+08:00", "pm25_24h=75", "o3_8h=130")
    assert out["aqi"] == 114
    assert out["iaqi"] == {"pm25_24h": 114, "o3_8h": 75}
    assert (out["level"], out["category"]) == ("三级", "轻度污染")
    assert out["primary_pollutants"] == ["pm25"]
    assert out["standard"] == "HJ 633-2026"


def test_aqi_2012_by_date(runner: CliRunner, app: typer.Typer) -> None:
    out = _json(runner, app, "aqi", "--at", "2025-06-01", "pm25_24h=75")
    assert (out["aqi"], out["standard"]) == (100, "HJ 633-2012")


def test_aqi_at_uses_the_local_date(runner: CliRunner, app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    # 2026-02-28T16:30Z is 2026-03-01 00:30 in Asia/Shanghai: the 2026 table applies
    monkeypatch.setenv("CITYWATCH_TIMEZONE", "Asia/Shanghai")
    out = _json(runner, app, "aqi", "--at", "2026-02-28T16:30:00+00:00", "pm25_24h=75")
    assert (out["aqi"], out["standard"], out["date"]) == (114, "HJ 633-2026", "2026-03-01")


def test_aqi_every_input_name(runner: CliRunner, app: typer.Typer) -> None:
    names = ["pm25_24h", "pm25_1h", "pm10_24h", "pm10_1h", "so2_24h", "so2_1h"]
    names += ["no2_24h", "no2_1h", "co_24h", "co_1h", "o3_1h", "o3_8h"]
    out = _json(runner, app, "aqi", "--at", "2025-01-01", *(f"{n}=1" for n in names))
    iaqi = out["iaqi"]
    assert isinstance(iaqi, dict) and set(iaqi) == set(names)


@pytest.mark.parametrize(
    ("arg", "named"),
    [("pm2=35", "pm2"), ("pm25_24h=-1", "pm25_24h"), ("pm25_24h=abc", "pm25_24h"), ("pm25_24h", "pm25_24h")],
)
def test_aqi_bad_argument_exits_2_naming_it(runner: CliRunner, app: typer.Typer, arg: str, named: str) -> None:
    result = runner.invoke(app, ["aqi", "--at", "2025-01-01", "o3_8h=100", arg])
    assert result.exit_code == 2
    assert named in result.stderr and result.stdout == ""


def test_aqi_bad_at_and_no_values(runner: CliRunner, app: typer.Typer) -> None:
    result = runner.invoke(app, ["aqi", "--at", "yesterday", "pm25_24h=1"])
    assert result.exit_code == 2 and "--at" in result.stderr
    assert runner.invoke(app, ["aqi"]).exit_code == 2


def test_water_class_river(runner: CliRunner, app: typer.Typer) -> None:
    out = _json(runner, app, "water-class", "ph=7.2", "do=6.5", "codmn=4.5", "nh3n=2.5", "tp=0.15")
    assert out["class"] == "劣V"
    assert out["rating"] == "重度污染"
    assert out["limiting"] == ["nh3n"]
    assert out["main_pollutants"] == [
        {"indicator": "nh3n", "class": "劣V", "exceedance_multiple": "1.50"},
    ]


def test_water_class_lake_uses_lake_tp(runner: CliRunner, app: typer.Typer) -> None:
    out = _json(runner, app, "water-class", "--kind", "lake", "tp=0.05", "tn=1.2", "f=0.5")
    assert out["class"] == "III" and out["limiting"] == ["tp"] and out["main_pollutants"] == []
    assert out["separate"] == {"tn": "IV"}
    river = _json(runner, app, "water-class", "tp=0.05")
    assert river["class"] == "II"


@pytest.mark.parametrize(("arg", "named"), [("nh4=1", "nh4"), ("nh3n=-0.1", "nh3n"), ("ph=-1", "ph")])
def test_water_class_bad_argument_exits_2_naming_it(runner: CliRunner, app: typer.Typer, arg: str, named: str) -> None:
    result = runner.invoke(app, ["water-class", "do=6", arg])
    assert result.exit_code == 2
    assert named in result.stderr


def test_water_class_bad_kind(runner: CliRunner, app: typer.Typer) -> None:
    assert runner.invoke(app, ["water-class", "--kind", "sea", "do=6"]).exit_code == 2


def test_registered_on_the_real_app() -> None:
    try:
        from tools.cli import app as real_app
    except Exception as exc:  # the other modules of the CLI are being written concurrently
        pytest.skip(f"tools.cli does not import right now: {exc}")
    result = CliRunner().invoke(real_app, ["aqi", "--at", "2025-06-01", "pm25_24h=35"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["aqi"] == 50


def test_aqi_shows_the_rounding_rule_it_applied(runner: CliRunner, app: typer.Typer) -> None:
    # issue 17: PM2.5 24 h 60.4 on 2026-06-01 -- rounded to 60 first it is 100 (良); unrounded 101 (轻度污染)
    rounded = _json(runner, app, "aqi", "--at", "2026-06-01", "pm25_24h=60.4")
    assert (rounded["aqi"], rounded["category"]) == (100, "良")
    rule = rounded["rounding"]
    assert isinstance(rule, dict)
    assert rule["rule"] == "reported" and "GB/T 8170" in rule["description"]
    assert rule["looked_up"] == {"pm25_24h": "60"}
    exact = _json(runner, app, "aqi", "--at", "2026-06-01", "--rounding", "exact", "pm25_24h=60.4")
    assert (exact["aqi"], exact["category"]) == (101, "轻度污染")
    assert exact["rounding"] == {
        "rule": "exact",
        "description": exact["rounding"]["description"],  # type: ignore[index]
        "looked_up": {"pm25_24h": "60.4"},
    }


def test_aqi_rounding_follows_the_setting(runner: CliRunner, app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_AQI_CONCENTRATION_ROUNDING", "exact")
    assert _json(runner, app, "aqi", "--at", "2026-06-01", "pm25_24h=60.4")["aqi"] == 101
    monkeypatch.setenv("CITYWATCH_AQI_CONCENTRATION_ROUNDING", "sometimes")
    result = runner.invoke(app, ["aqi", "--at", "2026-06-01", "pm25_24h=60.4"])
    assert result.exit_code != 0


def test_water_class_lists_a_heavy_metal_first(runner: CliRunner, app: typer.Typer) -> None:
    # 环办[2011]22号: a heavy metal or cyanide worse than class III leads the main pollutants, even when its class
    # (Pb 0.06 -> IV) is better than the others' (V)
    out = _json(runner, app, "water-class", "codmn=15", "bod5=10", "nh3n=2.0", "pb=0.06")
    main = out["main_pollutants"]
    assert isinstance(main, list)
    assert [m["indicator"] for m in main] == ["pb", "codmn", "bod5"]


def _limit(out: dict[str, object], pollutant: str, period: str) -> dict[str, object]:
    limits = out["limits"]
    assert isinstance(limits, list)
    (found,) = [lim for lim in limits if (lim["pollutant"], lim["period"]) == (pollutant, period)]
    assert isinstance(found, dict)
    return found


def test_limits_in_force_mid_2026_and_from_2031(runner: CliRunner, app: typer.Typer) -> None:
    mid_2026 = _json(runner, app, "limits", "--at", "2026-06-01", "--grade", "II")
    assert mid_2026["date"] == "2026-06-01"
    assert _limit(mid_2026, "pm10", "24h") == _limit(mid_2026, "pm10", "24h") | {
        "pollutant": "pm10",
        "period": "24h",
        "grade": "II",
        "value": 120,
        "unit": "µg/m³",
        "standard": "GB 3095-2026",
        "stage": "transition",
    }
    assert "Table 1" in str(_limit(mid_2026, "pm10", "24h")["source"])
    assert (_limit(mid_2026, "pm10", "24h")["effective_from"], _limit(mid_2026, "pm10", "24h")["last_day"]) == (
        "2026-03-01",
        "2030-12-31",
    )
    assert _limit(mid_2026, "pm25", "24h")["value"] == 60
    limits = mid_2026["limits"]
    assert isinstance(limits, list)
    assert {lim["grade"] for lim in limits} == {"II"}
    assert {lim["pollutant"] for lim in limits} == {"pm25", "pm10", "so2", "no2", "co", "o3"}
    assert {lim["period"] for lim in limits} == {"annual", "24h", "8h", "1h"}

    from_2031 = _json(runner, app, "limits", "--at", "2031-06-01", "--grade", "II")
    assert [_limit(from_2031, p, "24h")["value"] for p in ("pm10", "so2", "no2")] == [100, 50, 50]
    assert _limit(from_2031, "pm10", "24h")["stage"] == "full"

    before = _json(runner, app, "limits", "--at", "2026-02-28")
    assert [
        (lim["grade"], lim["value"]) for lim in before["limits"] if (lim["pollutant"], lim["period"]) == ("pm25", "24h")
    ] == [  # type: ignore[union-attr]
        ("I", 35),
        ("II", 75),
    ]
    assert _limit(_json(runner, app, "limits", "--at", "2026-06-01", "--grade", "I"), "pm25", "annual")["value"] == 15
