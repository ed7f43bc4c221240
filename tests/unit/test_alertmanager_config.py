"""The shipped Alertmanager config (deploy/alertmanager/alertmanager.yml): loaded and routed by amtool itself, and
held to the registry and the rule files.

amtool ships with prometheus-alertmanager, which `make install` puts in place; without it the amtool tests skip.
No Alertmanager runs here: `amtool check-config` and `amtool config routes test` work on the file alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from citywatch.site_registry import load_registry
from tools.devstack.config import REPO_ROOT

CONFIG_FILE = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
REGISTRY_FILE = REPO_ROOT / "registry" / "wujiang-sample.yaml"
RULE_FILES = sorted((REPO_ROOT / "rules").glob("*.yaml"))
PIPELINE_RULE_FILES = sorted((REPO_ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
MAINTENANCE = "environment-sensor-maintenance"

AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool is not installed (package prometheus-alertmanager; `make install` adds it)"
)

CONFIG: dict[str, Any] = yaml.safe_load(CONFIG_FILE.read_text())
ROUTE: dict[str, Any] = CONFIG["route"]


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


def routed_to(labels: dict[str, str], config: Path = CONFIG_FILE) -> str:
    """The receiver amtool routes an alert with these labels to."""
    result = amtool("config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items()))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def matchers(route: dict[str, Any]) -> dict[str, str]:
    """A route's equality matchers, label -> value (the shipped file uses only `label="value"`)."""
    out = {}
    for matcher in route.get("matchers", []):
        found = re.fullmatch(r'\s*([a-zA-Z_]\w*)\s*=\s*"([^"]*)"\s*', matcher)
        assert found, f"not an equality matcher: {matcher!r}"
        out[found[1]] = found[2]
    return out


def walk(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from walk(child)


def department_routes() -> dict[str, dict[str, Any]]:
    return {matchers(r)["department"]: r for r in ROUTE["routes"] if "department" in matchers(r)}


def registry_departments() -> list[str]:
    return [d.id for d in load_registry(REGISTRY_FILE).departments]


def rule_labels() -> set[tuple[str, str]]:
    """(department, severity) of every citywatch rule and per-site override, and of the pipeline's own alerts."""
    pairs = set()
    for file in RULE_FILES:
        for rule in yaml.safe_load(file.read_text())["rules"]:
            pairs.add((rule["department"], rule["severity"]))
            for override in rule.get("overrides", []):
                pairs.add((rule["department"], override.get("severity", rule["severity"])))
    for file in PIPELINE_RULE_FILES:
        for group in yaml.safe_load(file.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") not in {None, "Watchdog"}:  # None: a recording rule
                    pairs.add((rule["labels"]["department"], rule["labels"]["severity"]))
    return pairs


def expected_receiver(department: str, severity: str) -> str:
    return f"{department}-{severity}" if severity in {"critical", "info"} else department


# --- amtool -----------------------------------------------------------------------------------------------------


@needs_amtool
def test_amtool_accepts_the_config() -> None:
    result = amtool("check-config", str(CONFIG_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_amtool
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        ({"department": "environment", "severity": "critical", "alertname": "air-pm25-attainment-off-track"},
         "environment-critical"),
        ({"department": "environment", "severity": "warning", "alertname": "water-section-silent", "feed": "water"},
         "environment"),
        ({"department": "environment", "severity": "info", "alertname": "air-pm25-1h-rapid-rise"}, "environment-info"),
        ({"department": "transport", "severity": "warning", "site": "wj-bus-701"}, "transport"),
        ({"department": "transport", "severity": "critical", "site": "wj-district"}, "transport-critical"),
        ({"department": "urban-management", "severity": "critical", "site": "wj-district"},
         "urban-management-critical"),
        ({"department": "urban-management", "severity": "info"}, "urban-management-info"),
        # a severity no route names stays with its department
        ({"department": "transport", "severity": "page"}, "transport"),
        # no route for the department, or no department at all: the default receiver
        ({"department": "water-resources", "severity": "critical", "site": "wj-ws-fenhu"}, "default"),
        ({"severity": "critical", "site": "wj-songling"}, "default"),
        # the pipeline's own alerts
        ({"alertname": "Watchdog", "severity": "none", "department": "platform"}, "watchdog"),
        ({"alertname": "CitywatchProcessDown", "severity": "critical", "department": "platform"},
         "platform-critical"),
        ({"alertname": "CitywatchDeadLetters", "severity": "warning", "department": "platform"}, "platform"),
    ],
    ids=lambda v: "-".join(v.values()) if isinstance(v, dict) else v,
)  # fmt: skip
def test_amtool_routes(labels: dict[str, str], receiver: str) -> None:
    assert routed_to(labels) == receiver


@needs_amtool
def test_every_department_and_severity_the_rules_use_reaches_its_own_receiver() -> None:
    pairs = rule_labels()
    assert {severity for _, severity in pairs} >= {"critical", "warning", "info"}
    wrong = {
        pair: got
        for pair in sorted(pairs)
        if (got := routed_to({"department": pair[0], "severity": pair[1], "site": "x"})) != expected_receiver(*pair)
    }
    assert not wrong, wrong


@needs_amtool
def test_the_commented_webhook_example_loads_on_every_receiver(tmp_path: Path) -> None:
    """The receivers have no integrations; the comment above them shows the webhook a deployment adds. Uncommented
    and added to every receiver, it must load in the installed Alertmanager and leave the routing as it is."""
    lines = CONFIG_FILE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"#\s+- name: ", line))
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line.removeprefix("#"))
    example = yaml.safe_load("\n".join(block))
    webhooks = example[0]["webhook_configs"]
    assert webhooks[0]["url"].startswith("https://"), webhooks

    config = yaml.safe_load(CONFIG_FILE.read_text())
    for receiver in config["receivers"]:
        receiver["webhook_configs"] = [{**w, "url": f"{w['url']}-{receiver['name']}"} for w in webhooks]
    patched = tmp_path / "alertmanager.yml"
    patched.write_text(yaml.safe_dump(config, sort_keys=False))
    result = amtool("check-config", str(patched))
    assert result.returncode == 0, result.stdout + result.stderr
    assert routed_to({"department": "environment", "severity": "critical"}, patched) == "environment-critical"


# --- structure --------------------------------------------------------------------------------------------------


def test_every_registry_department_has_a_route_with_critical_and_info_children() -> None:
    routes = department_routes()
    for department in registry_departments():
        assert department in routes, f"no route for registry department {department!r}"
        route = routes[department]
        assert route["receiver"] == department
        children = {matchers(child).get("severity"): child["receiver"] for child in route.get("routes", [])}
        assert children == {"critical": f"{department}-critical", "info": f"{department}-info"}, department


def test_every_department_the_rules_name_has_a_route() -> None:
    missing = {department for department, _ in rule_labels()} - department_routes().keys()
    assert not missing


def test_alerts_are_grouped_by_site() -> None:
    assert "site" in ROUTE["group_by"]
    assert "department" in ROUTE["group_by"]
    site_less = {"platform", "Watchdog"}  # the pipeline's alerts have no site label
    for route in walk(ROUTE):
        if "group_by" in route and not site_less & set(matchers(route).values()):
            assert "site" in route["group_by"], route


def test_inhibition_stays_within_one_family_of_one_site_and_department() -> None:
    rules = CONFIG["inhibit_rules"]
    assert {(r["source_matchers"][0], r["target_matchers"][0]) for r in rules} == {
        ('severity="critical"', 'severity=~"warning|info"'),
        ('severity="warning"', 'severity="info"'),
    }
    for rule in rules:
        assert set(rule["equal"]) == {"site", "department", "family"}
        # a site-less critical (the pipeline's) must not inhibit every other site-less warning
        assert 'site=~".+"' in rule["source_matchers"]
        assert 'family=~".+"' in rule["source_matchers"]


def test_the_maintenance_window_is_defined_and_mutes_environment_warnings_and_info_only() -> None:
    intervals = {interval["name"]: interval for interval in CONFIG["time_intervals"]}
    assert MAINTENANCE in intervals
    (spec,) = intervals[MAINTENANCE]["time_intervals"]
    assert spec["weekdays"] and spec["times"]
    # Written in UTC: the prom/alertmanager image (docker-compose) has no time zone database to resolve a location.
    assert "location" not in spec

    environment = department_routes()["environment"]
    assert MAINTENANCE in environment["mute_time_intervals"]  # warnings and other severities
    children = {matchers(child)["severity"]: child for child in environment["routes"]}
    assert MAINTENANCE in children["info"]["mute_time_intervals"]
    for route in walk(ROUTE):
        if matchers(route).get("severity") == "critical":
            assert not route.get("mute_time_intervals"), f"a critical route is muted: {route}"

    muted = {name for route in walk(ROUTE) for name in route.get("mute_time_intervals", [])}
    assert muted <= intervals.keys()


def test_receivers_are_all_used_and_all_defined() -> None:
    declared = [receiver["name"] for receiver in CONFIG["receivers"]]
    used = {route["receiver"] for route in walk(ROUTE)}
    assert len(declared) == len(set(declared))
    assert used == set(declared)
