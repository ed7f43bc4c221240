"""Sites in the dashboards: names from the registry, the info metric the variables and the map read."""

from __future__ import annotations

import re
from typing import Any

from citywatch.site_registry import Registry
from tools.dashboard_builder import metrics, walk
from tools.dashboard_builder.common import SITE_VARIABLE_REGEX


def test_site_info_has_every_registry_site(registry: Registry) -> None:
    labels = metrics.site_info_labels(registry)
    assert [row["site"] for row in labels] == [s.id for s in registry.all_sites()]
    assert all(set(row) == set(metrics.SITE_INFO_LABELS) for row in labels)
    songling = next(row for row in labels if row["site"] == "wj-songling")
    assert songling["name"] == "松陵站 Songling" and float(songling["lat"]) == registry.site("wj-songling").lat


def test_site_variable_regex_reads_a_query_result_line(registry: Registry) -> None:
    """Grafana's query_result lines are `name{label="value",…} value timestamp`, labels sorted by name."""
    row = metrics.site_info_labels(registry)[0] | {"job": "citywatch", "instance": "127.0.0.1:6066"}
    line = metrics.SITE_INFO + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(row.items())) + "} 1 1764300000000"
    # Grafana (JavaScript) writes named groups (?<name>…), Python (?P<name>…).
    match = re.search(SITE_VARIABLE_REGEX.strip("/").replace("(?<", "(?P<"), line)
    assert match is not None
    assert match.group("value") == row["site"] and match.group("text") == row["name"]


def test_station_panels_show_registry_names(committed: dict[str, dict[str, Any]], registry: Registry) -> None:
    panel = next(p for p in walk.panels(committed["citywatch-air"]) if p["title"].startswith("AQI (real-time)"))
    names = {o["matcher"]["options"]: o["properties"][0]["value"] for o in panel["fieldConfig"]["overrides"]}
    assert names == {s.id: f"{s.name_zh} {s.name_en}" for s in registry.stations}


def test_station_map_uses_registry_coordinates(committed: dict[str, dict[str, Any]], registry: Registry) -> None:
    panel = next(p for p in walk.panels(committed["citywatch-air"]) if p["type"] == "geomap")
    assert (
        metrics.SITE_INFO in panel["targets"][0]["expr"]
        and "group_left (name, lat, lon)" in panel["targets"][0]["expr"]
    )
    location = panel["options"]["layers"][0]["location"]
    assert (location["mode"], location["latitude"], location["longitude"]) == ("coords", "lat", "lon")
    view = panel["options"]["view"]
    assert registry.bounds.south < view["lat"] < registry.bounds.north
    assert registry.bounds.west < view["lon"] < registry.bounds.east


def test_alert_table_names_sites(committed: dict[str, dict[str, Any]], registry: Registry) -> None:
    panel = next(p for p in walk.panels(committed["citywatch-alerts"]) if p["type"] == "table")
    mapping = panel["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]["options"]
    assert mapping["wj-ws-fenhu"]["text"] == "汾湖湖心 Fenhu Lake centre"
    assert set(mapping) == {s.id for s in registry.all_sites()}
