"""The plan evaluation report from a real indicators topic: the simulator's feeds for 15 days go through the
worker, `citywatch report` reads the topic the worker wrote, and its headline figures are recomputed here from
the same topic, independently of tools.report (issue 7 item 4)."""

from __future__ import annotations

import datetime as dt
import json
import re

from citywatch.schemas.indicator import records_in
from tests.conftest import Isolation
from tests.integration.cli_runs import run_citywatch
from tests.integration.worker_runs import (
    SHANGHAI,
    produce,
    read_all,
    scenario_inputs,
    source_topics,
    wait_until_consumed,
)
from tests.unit.report.recompute import assert_headlines_match, current, headlines
from tools.report.figures import Period

START = dt.datetime(2025, 1, 20, tzinfo=SHANGHAI)
FIRST, LAST = dt.date(2025, 1, 20), dt.date(2025, 2, 3)  # spans a month end: January's water classes are in it
PERIOD = Period(FIRST, LAST)


def test_report_headlines_equal_a_recomputation_from_the_topic(isolation: Isolation) -> None:
    bootstrap = isolation.stack.kafka_bootstrap
    topics = isolation.ensure_topics(2)
    inputs = scenario_inputs(15 * 24, start=START)
    produce(bootstrap, topics, inputs)
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    wait_until_consumed(bootstrap, isolation.env["CITYWATCH_WORKER_APP_ID"], source_topics(topics, inputs))

    out = isolation.tmp_path / "report"
    done = run_citywatch(
        ["report", "--from", str(FIRST), "--to", str(LAST), "--out", str(out)], isolation.env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert topics.indicators in done.stdout
    shown = headlines(out / "index.html")
    text = (out / "index.html").read_text("utf-8")
    assert "吴江区规划指标评估报告" in text and "盛泽站 (wj-shengze)" in text
    for name in re.findall(r'<img src="([^"]+)"', text):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name

    records = [record for _, v in read_all(bootstrap, topics.indicators) if v for record in records_in(v)]
    assert_headlines_match(shown, current(records, PERIOD), PERIOD)
    print(f"\nreport from {len(records)} indicator records of {topics.indicators}: {shown}")

    # `citywatch indicators tail` prints the records the updates carry, one per line, filtered.
    filters = ["--site", "wj-songling", "--indicator", "air.pm25.daily", "--max", "3", "--idle-s", "5"]
    tail = run_citywatch(["indicators", "tail", *filters], isolation.env, timeout=120)
    assert tail.returncode == 0, tail.stderr[-2000:]
    printed = [json.loads(line) for line in tail.stdout.splitlines()]
    expected = [r for r in records if r.site == "wj-songling" and r.indicator.startswith("air.pm25.daily")][:3]
    assert printed == [json.loads(r.model_dump_json()) for r in expected]
