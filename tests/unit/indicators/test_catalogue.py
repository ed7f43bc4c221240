import json
import re

import typer
from typer.testing import CliRunner

from citywatch.indicators.catalogue import CATALOGUE, PM25_1H, PM25_MEAN_24H
from citywatch.standards import plan_target
from tools.cli import indicators as cli_indicators

METRIC = re.compile(
    r"^citywatch_(air|water|bus|mode_share|waste)_[a-z0-9_]+_(ugm3|mgm3|mgl|tonnes|ratio|count|index|class|days)$"
)


def test_the_worker_s_two_indicators_are_unchanged() -> None:
    assert (PM25_1H.id, PM25_1H.unit, PM25_1H.window, PM25_1H.metric) == (
        "air.pm25.1h",
        "µg/m³",
        "1h",
        "citywatch_air_pm25_ugm3",
    )
    assert (PM25_MEAN_24H.id, PM25_MEAN_24H.window, PM25_MEAN_24H.metric) == (
        "air.pm25.mean_24h",
        "24h",
        "citywatch_air_pm25_ugm3",
    )
    assert CATALOGUE["air.pm25.1h"] is PM25_1H and CATALOGUE["air.pm25.mean_24h"] is PM25_MEAN_24H


def test_every_indicator_is_named_by_the_convention_and_points_at_real_targets() -> None:
    assert len(CATALOGUE) >= 40
    for indicator in CATALOGUE.values():
        assert METRIC.match(indicator.metric), indicator.metric
        assert indicator.id.split(".")[0] == indicator.feed
        assert indicator.stage in ("site", "district")
        assert indicator.standard in (None, "GB 3095", "HJ 633", "HJ 663", "GB 3838")
        if indicator.target is not None and indicator.target != "pm25_annual_mean":
            plan_target(indicator.target)  # raises for an unknown id
    # One metric, one unit: indicators sharing a metric differ only by window.
    units: dict[str, str] = {}
    for indicator in CATALOGUE.values():
        assert units.setdefault(indicator.metric, indicator.unit) == indicator.unit, indicator.id


def test_every_item_of_issue_5_has_an_indicator() -> None:
    wanted = {
        "air.pm25.daily_mean", "air.aqi.realtime", "air.aqi.daily", "air.o3.daily_max_8h",
        "air.pm25.annual_mean_ytd", "air.good_day_share_ytd", "air.pm25.exceedance_days_ytd",
        "air.pm25.attainment", "air.city.aqi.daily", "water.class.sample", "water.class.month",
        "water.class.quarter", "water.target_met.month", "water.good_iii_share.month",
        "bus.boardings.interval", "bus.boardings.day", "bus.boardings.vs_baseline",
        "bus.clean_energy_share.day", "bus.clean_energy_share.fleet", "mode_share.public_transport.day",
        "waste.tonnes.day", "waste.utilisation.day", "waste.hazardous.ytd", "waste.sorted_treatment_rate.day",
        "waste.district.hazardous.ytd", "waste.district.sorted_treatment_rate.ytd",
    }  # fmt: skip
    assert wanted <= set(CATALOGUE)


def test_cli_lists_the_catalogue_as_json_and_as_a_table() -> None:
    app = typer.Typer()
    cli_indicators.register(app)
    app.command("noop")(lambda: None)  # a group with two commands keeps the sub-command name
    runner = CliRunner()
    result = runner.invoke(app, ["indicators", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [i["id"] for i in listed] == sorted(CATALOGUE)
    assert listed[0].keys() >= {"id", "unit", "metric", "labels", "target", "standard", "description"}
    table = runner.invoke(app, ["indicators", "list", "--feed", "water"])
    assert table.exit_code == 0 and "water.class.month" in table.stdout and "air.aqi.daily" not in table.stdout
