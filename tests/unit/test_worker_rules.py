"""The worker's side of the rule engine: reloads keep the running rules on any problem and are counted; each site's
staleness is judged by the worker that reads the site's partition."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from citywatch.rule_engine.engine import RuleEngine
from citywatch.rule_engine.loader import load_rules
from citywatch.site_registry import load_registry
from streams import metrics
from streams.rule_source import RuleSource, partition_of, rules_key
from tools.devstack.config import REPO_ROOT

REGISTRY = load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("site", ["wj-songling", "wj-ws-taipu-pingwang", "route-1", "大桥"])
@pytest.mark.parametrize("partitions", [1, 4, 7])
def test_a_site_lives_in_the_partition_the_default_partitioner_gives_it(site: str, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_of(site, partitions) == DefaultPartitioner()(site.encode(), every, every)


def test_the_rule_state_key_cannot_collide_with_a_site_or_district_key() -> None:
    assert rules_key("wj-songling") == "rules:wj-songling"
    assert not any(s.id.startswith("rules:") for s in REGISTRY.all_sites())


def _source(tmp_path: Path) -> RuleSource:
    shutil.copytree(REPO_ROOT / "rules", tmp_path / "rules", ignore=shutil.ignore_patterns("tests"))
    rules = load_rules(tmp_path / "rules", REGISTRY)
    return RuleSource(RuleEngine(rules, REGISTRY, started=T0), tmp_path / "rules", REGISTRY)


def _count(outcome: str) -> float:
    return metrics.RULE_RELOADS.labels(outcome=outcome)._value.get()


def test_a_changed_file_is_reloaded_and_the_diff_counted(tmp_path: Path) -> None:
    source = _source(tmp_path)
    loaded = len(source.engine.rules)
    assert metrics.RULES_LOADED._value.get() == loaded
    assert asyncio.run(source.reload_if_changed()) is None
    air = tmp_path / "rules" / "air.yaml"
    air.write_text(air.read_text(encoding="utf-8").replace("severity: warning", "severity: critical", 1))
    applied = _count("applied")
    result = asyncio.run(source.reload_if_changed())
    assert result is not None and result.outcome == "applied"
    assert result.as_json()["changed"] == ["air-pm25-24h-grade2"]
    assert _count("applied") == applied + 1
    assert asyncio.run(source.reload_if_changed()) is None  # nothing changed since
    assert asyncio.run(source.reload("SIGHUP")).outcome == "unchanged"


def test_a_broken_file_keeps_the_running_rules_and_logs_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = _source(tmp_path)
    before = source.engine.rules
    water = tmp_path / "rules" / "water.yaml"
    water.write_text(water.read_text(encoding="utf-8").replace("severity: warning", "severity: loud", 1))
    failed = _count("failed")
    with caplog.at_level(logging.ERROR, logger="citywatch.worker.rules"):
        result = asyncio.run(source.reload_if_changed())
    assert result is not None and result.outcome == "failed"
    assert source.engine.rules == before
    assert metrics.RULES_LOADED._value.get() == len(before)
    assert _count("failed") == failed + 1
    assert f"{water}:" in caplog.text and "severity 'loud'" in caplog.text
    assert result.as_json()["problems"] == result.problems and result.problems[0].startswith(f"{water}:")
    # the broken files are not retried until they change again
    assert asyncio.run(source.reload_if_changed()) is None


def test_a_removed_rule_file_is_a_change(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (tmp_path / "rules" / "bus.yaml").unlink()
    result = asyncio.run(source.reload_if_changed())
    assert result is not None and result.outcome == "applied"
    assert result.diff is not None and result.diff.removed and not result.diff.added
