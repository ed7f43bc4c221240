"""History backfill (issue 15, "Done when"): five years of hourly PM2.5 with gaps, stamped at the hour's beginning,
loaded with `citywatch replay --backfill --time-convention hour-beginning` into a station that has been receiving
live readings. It completes, notifies nobody, records its past episodes as historical incidents, and every day's
mean, validity and IAQI and every year's figures equal a recomputation made here from the standards' text, without
citywatch's code."""

from __future__ import annotations

import csv
import math
import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from kafka import KafkaConsumer
from typer.testing import CliRunner

from citywatch.schemas.indicator import record_dicts_in
from tests.conftest import Isolation
from tests.integration.webhook_receiver import WebhookReceiver

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATION = "wj-songling"
SWITCH = date(2026, 3, 1)  # GB 3095-2026 / HJ 633-2026 take effect


# --- the standards, written out here (standards.md §0, §0b, §1, §2) -------------------------------------------------
def limit_24h(day: date) -> int:
    """GB 3095 Grade II PM2.5 24 h: 75 (2012) until 2026-02-28, 60 (2026 transition stage) from 2026-03-01."""
    return 75 if day < SWITCH else 60


def as_reported(concentration: Fraction) -> int:
    """The default rounding before the lookup (standards.md §0b, citywatch's setting `reported`): a whole µg/m³ by
    GB/T 8170, a bare 5 to the even digit -- what Python's round() does, exactly, on a Fraction."""
    return round(concentration)


def iaqi_pm25_24h(concentration: Fraction, day: date) -> int:
    """HJ 633 IAQI of a PM2.5 24 h mean (the 2026 table moves the IAQI-100 breakpoint from 75 to 60); ceiling."""
    points = [0, 35, 75 if day < SWITCH else 60, 115, 150, 250, 350, 500]
    iaqi = [0, 50, 100, 150, 200, 300, 400, 500]
    for lo, hi, i_lo, i_hi in zip(points, points[1:], iaqi, iaqi[1:], strict=False):
        if concentration <= hi:
            return math.ceil((i_hi - i_lo) / Fraction(hi - lo) * (concentration - lo) + i_lo)
    raise AssertionError(f"PM2.5 {concentration} is above the table")


def annual_valid(days: dict[date, Fraction]) -> bool:
    """GB 3095 Table 4: at least 324 daily values, and 27 in every month (25 in February)."""
    per_month = defaultdict(int)
    for day in days:
        per_month[day.month] += 1
    return len(days) >= 324 and all(per_month[m] >= (25 if m == 2 else 27) for m in range(1, 13))


# --- the data -----------------------------------------------------------------------------------------------------
def history_series(first: date, end: date, seed: int = 15) -> dict[datetime, float]:
    """Hourly PM2.5 keyed by each hour's *start* (local), from `first` up to `end` (exclusive), with gaps: about 3 %
    of hours missing at random, a whole day missing every 47 days, and every 29th day cut to 18 hours (too few for
    a valid mean); winter episodes above the 24 h limit."""
    rng = random.Random(seed)
    out: dict[datetime, float] = {}
    day = first
    while day < end:
        ordinal = day.toordinal()
        if ordinal % 47 != 0:
            winter = day.month in (12, 1, 2)
            episode = winter and ordinal % 11 < 3
            for h in range(18 if ordinal % 29 == 0 else 24):
                if rng.random() < 0.03:
                    continue
                base = 95 if episode else (48 if winter else 26)
                out[datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=h)] = round(
                    max(1.0, rng.gauss(base, 12)), 1
                )
        day += timedelta(days=1)
    return out


def recompute(hours: dict[datetime, float]) -> tuple[dict[date, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Every day's figures and every year's, from hourly values keyed by the hour's start."""
    by_day: dict[date, list[Fraction]] = defaultdict(list)
    for start, value in hours.items():
        by_day[start.date()].append(Fraction(str(value)))
    days: dict[date, dict[str, Any]] = {}
    for day, values in by_day.items():
        mean = sum(values, Fraction(0)) / len(values)
        valid = len(values) >= 20
        days[day] = {"mean": mean, "hours": len(values), "valid": valid, "iaqi": iaqi_pm25_24h(as_reported(mean), day)}
    years: dict[int, dict[str, Any]] = {}
    for year in sorted({d.year for d in days}):
        valid_days = {d: v["mean"] for d, v in days.items() if d.year == year and v["valid"]}
        good = sum(1 for d in valid_days if days[d]["iaqi"] <= 100)
        years[year] = {
            "valid_days": len(valid_days),
            "annual_mean": sum(valid_days.values(), Fraction(0)) / len(valid_days),
            "annual_valid": annual_valid(valid_days),
            "over_limit": sum(1 for d, m in valid_days.items() if m > limit_24h(d)),
            "good_days": good,
            "good_share": Fraction(good, len(valid_days)),
        }
    return days, years


# --- reading back -------------------------------------------------------------------------------------------------
def station_buckets(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    """The current record (highest revision) of every bucket of the station, read to the topic's end."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        consumer_timeout_ms=3000, max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    current: dict[str, dict[str, Any]] = {}
    try:
        for message in consumer:
            for record in record_dicts_in(message.value):
                if record["site"] != STATION:
                    continue
                key = f"{record['indicator']}|{record['period']}"
                if key not in current or record["revision"] >= current[key]["revision"]:
                    current[key] = record
    finally:
        consumer.close()
    return current


def test_five_years_of_history_beside_live_data(isolation: Isolation, webhook: WebhookReceiver, tmp_path: Path) -> None:
    stack = isolation.stack
    topics = isolation.ensure_topics(partitions=2)
    env = {"CITYWATCH_WEBHOOK_URLS": webhook.url}
    gateway = isolation.start("ingest", "CITYWATCH_INGEST_PORT", health_path="/healthz")
    isolation.start("worker", "CITYWATCH_WORKER_WEB_PORT")
    alerts = isolation.start("alerts", "CITYWATCH_ALERTS_PORT", health_path="/healthz", **env)
    base = f"http://127.0.0.1:{gateway.metrics_port}"
    key = isolation.api_key("environment")
    auth = {"Authorization": f"Bearer {key}"}

    # Live readings (hour-ending) for the last three local days, quiet air: nothing to page about.
    today = datetime.now(SHANGHAI).date()
    live_start = datetime.combine(today - timedelta(days=3), datetime.min.time(), SHANGHAI)
    now = datetime.now(UTC)
    live: dict[datetime, float] = {}
    at = live_start
    while at + timedelta(hours=1) <= now:
        live[at] = round(18 + (at.hour % 7) * 1.5, 1)
        at += timedelta(hours=1)
    records = [
        {"station": STATION, "observed_at": (s + timedelta(hours=1)).isoformat(), "pm25": v} for s, v in live.items()
    ]
    response = httpx.post(f"{base}/v1/feeds/air/readings/batch", json=records, headers=auth, timeout=60)
    assert response.status_code == 202, response.text

    # Five years and a bit of history, ending the day before the live data began, as a CSV export stamped at
    # each hour's beginning, in local time without an offset (as such exports are).
    first = date(live_start.year - 5, live_start.month, 1)
    history = history_series(first, live_start.date())
    assert len(history) > 5 * 8000
    path = tmp_path / "songling-history.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "pm25"])
        for start, value in history.items():
            writer.writerow([start.strftime("%Y-%m-%d %H:%M"), value])
        writer.writerow([(first - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"), "NA"])  # a gap as exports write it

    from tools.cli import app

    cli_env = {
        "CITYWATCH_INGEST_URL": base,
        "CITYWATCH_TOPIC_PREFIX": isolation.id,
        "CITYWATCH_REDIS_PREFIX": isolation.id,
    }
    args = ["replay", str(path), "--feed", "air", "--site", STATION, "--backfill",
            "--time-convention", "hour-beginning", "--key", key, "--wait", "300"]  # fmt: skip
    started = time.monotonic()
    result = CliRunner().invoke(app, args, env=cli_env)
    elapsed = time.monotonic() - started
    print(f"backfill of {len(history)} readings: {elapsed:.1f} s end to end, {len(history) / elapsed:.0f} readings/s")
    print(result.output)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"processed by the worker │ {len(history)}" in flat or f"processed by the worker {len(history)}" in flat

    # Every day and every year, against the recomputation.
    days, years = recompute({**history, **live})
    got = station_buckets(stack.kafka_bootstrap, topics.indicators)
    wrong: dict[str, tuple[Any, Any]] = {}
    for day, want in days.items():
        mean = got.get(f"air.pm25.daily_mean|{day.isoformat()}")
        aqi = got.get(f"air.aqi.daily|{day.isoformat()}")
        if mean is None or aqi is None:
            wrong[day.isoformat()] = ("missing", want)
            continue
        status = "valid" if want["valid"] else "insufficient-data"
        if (abs(mean["value"] - float(want["mean"])) > 1e-9, mean["samples"], mean["status"]) != (
            False,
            want["hours"],
            status,
        ):
            wrong[f"mean {day}"] = ((mean["value"], mean["samples"], mean["status"]), want)
        if (aqi["value"], aqi["status"]) != (want["iaqi"], status):
            wrong[f"aqi {day}"] = ((aqi["value"], aqi["status"]), want["iaqi"])
    assert len(days) > 5 * 350
    for year, want in years.items():
        annual = got[f"air.pm25.annual_mean_ytd|{year}"]
        over = got[f"air.pm25.exceedance_days_ytd|{year}"]
        share = got[f"air.good_day_share_ytd|{year}"]
        seen = (
            round(annual["value"], 9), annual["samples"], annual["status"] == "valid",
            over["value"], over["samples"],
            round(share["value"], 9), int(share["labels"]["good_days"]), int(share["labels"]["valid_days"]),
        )  # fmt: skip
        expected = (
            round(float(want["annual_mean"]), 9), want["valid_days"], want["annual_valid"],
            want["over_limit"], want["valid_days"],
            round(float(want["good_share"]), 9), want["good_days"], want["valid_days"],
        )  # fmt: skip
        if seen != expected:
            wrong[f"year {year}"] = (seen, expected)
    assert not wrong, dict(list(wrong.items())[:10])
    assert any(y["annual_valid"] for y in years.values()) and any(y["over_limit"] for y in years.values())

    # Nobody was told of the past: no webhook call, nothing in Alertmanager; the episodes are historical incidents.
    oncall = {"Authorization": f"Bearer {isolation.api_key('environment', 'oncall')}"}
    history_url = f"http://127.0.0.1:{alerts.metrics_port}/v1/history"
    deadline = time.monotonic() + 60
    incidents: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(i["status"] == "firing" for i in incidents):
        time.sleep(1)
        incidents = httpx.get(history_url, params={"site": STATION, "limit": 1000}, headers=oncall).json()
    firing = [i for i in incidents if i["status"] == "firing"]
    assert firing and all(i.get("historical") for i in incidents), incidents[:3]
    time.sleep(3)  # the outbox drains every second: a notification would have gone out by now
    # (The sample fleet's clean-energy share, 10 of 12 buses, is below the plan's 85 % today: that live alert may
    # page; nothing about the station or about any day before the live data may.)
    past = [c for c in webhook.calls if c["site"] == STATION or float(c["event_time"]) < live_start.timestamp()]
    assert past == [], past[:3]
    am = httpx.get(
        f"{stack.alertmanager_url}/api/v2/alerts",
        params=[("filter", f"test={isolation.id}"), ("filter", f"site={STATION}")],
    ).json()
    assert am == []
