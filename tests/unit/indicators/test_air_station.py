import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.air_station import AirContext, process_station, process_station_batch
from citywatch.indicators.eventtime import Lateness
from citywatch.schemas.air import AirReading
from tests.unit.indicators.helpers import ZONE, canonical, final, shuffle_within

H = dt.timedelta(hours=1)
DAY1 = dt.datetime(2025, 1, 1, tzinfo=ZONE)  # local midnight starting 2025-01-01
CTX = AirContext(zone=ZONE, district="wj", lateness=Lateness(dt.timedelta(hours=6)))


def reading(hour: int, pm25: float, rev: int = 0, **extra: object) -> AirReading:
    """The hourly value of hour `hour` (0 = 00:00–01:00 on 2025-01-01), observed at the hour's end."""
    units = {f"{k}_unit": ("mg/m³" if k == "co" else "µg/m³") for k in extra if k in ("pm10", "o3", "no2", "so2", "co")}
    return AirReading.model_validate(
        {"station": "s1", "observed_at": DAY1 + (hour + 1) * H, "pm25": pm25, "revision": rev, **extra, **units}
    )


def run(readings: list[AirReading], ctx: AirContext = CTX):
    state = None
    records, outcomes, contributions = [], [], []
    for r in readings:
        res = process_station(state, r, ctx)
        state = res.state
        records.extend(res.records)
        outcomes.append(res.outcome)
        contributions.extend(res.contributions)
    return state, records, outcomes, contributions


def latest(records, indicator: str, period: str):
    return final(records)[f"{indicator}|s1|{period}"]


def test_daily_mean_is_valid_with_20_hours_and_gives_the_daily_aqi() -> None:
    # Hours 0..23 at 30, 31, ..., 53: mean (30 + 53) / 2 = 41.5 (hand calculation).
    _, records, _, _ = run([reading(h, 30 + h) for h in range(24)])
    daily = latest(records, "air.pm25.daily_mean", "2025-01-01")
    assert (daily["value"], daily["status"], daily["samples"]) == (41.5, "valid", 24)
    assert daily["standard"] == "GB 3095-2012"
    # HJ 633-2012 PM2.5 24 h: (100-50)/(75-35) * (41.5-35) + 50 = 58.125 -> ceiling 59.
    aqi = latest(records, "air.aqi.daily", "2025-01-01")
    assert (aqi["value"], aqi["labels"]["category"], aqi["labels"]["primary_pollutants"]) == (59, "良", "pm25")
    assert aqi["standard"] == "HJ 633-2012"


def test_a_day_with_19_hours_is_insufficient_and_counts_for_no_annual_statistic() -> None:
    _, records, _, _ = run([reading(h, 35.0) for h in range(19)])
    daily = latest(records, "air.pm25.daily_mean", "2025-01-01")
    assert (daily["value"], daily["status"], daily["samples"]) == (35.0, "insufficient-data", 19)
    assert latest(records, "air.aqi.daily", "2025-01-01")["status"] == "insufficient-data"
    assert "air.good_day_share_ytd|s1|2025" not in final(records)  # no valid daily AQI yet


def test_year_to_date_statistics_and_the_attainment_projection() -> None:
    # Day 1: 24 h at 35 (AQI 50, good). Day 2: 24 h at 80 (above the 75 limit; AQI 107, not good).
    readings = [reading(h, 35.0) for h in range(24)] + [reading(24 + h, 80.0) for h in range(24)]
    _, records, _, contributions = run(readings)
    out = final(records)
    assert out["air.pm25.annual_mean_ytd|s1|2025"]["value"] == 57.5  # (35 + 80) / 2
    assert out["air.pm25.annual_mean_ytd|s1|2025"]["status"] == "provisional"
    assert out["air.pm25.exceedance_days_ytd|s1|2025"]["value"] == 1
    assert out["air.good_day_share_ytd|s1|2025"]["value"] == 0.5
    attainment = out["air.pm25.attainment|s1|2025"]
    # Target 35 (GB 3095-2012 Grade II annual); required mean (35*365 - 115) / 363 = 34.8760..., below
    # reach 0.8 * pace 57.5 = 46: off-track.
    assert attainment["value"] == 57.5 and attainment["status"] == "off-track"
    assert attainment["labels"]["required_mean"] == "34.876"
    # Each changed station-day goes to the district stage with a growing revision.
    day2 = [c for c in contributions if c.bucket == "2025-01-02"]
    assert [c.revision for c in day2] == list(range(1, 25))
    assert day2[-1].values["pm25_24h"] == "80"


def test_realtime_aqi_and_moving_means() -> None:
    readings = [reading(h, 35.0, o3=float(100 + h), pm10=50.0) for h in range(8)]
    _, records, _, _ = run(readings)
    out = final(records)
    o3_8h = out["air.o3.mean_8h|s1|2025-01-01T07"]
    assert (o3_8h["value"], o3_8h["status"]) == (103.5, "valid")  # mean of 100..107
    rt = out["air.aqi.realtime|s1|2025-01-01T07"]
    # IAQI: PM2.5 1 h 35 on the 24 h column = 50; PM10 50 = 50; O3 1 h 107 = ceil(107*50/160) = 34;
    # O3 8 h 103.5 is looked up as reported, 104 (GB/T 8170): ceil(50 + 50/60 * 4) = 54 -> AQI 54, primary O3.
    assert (rt["value"], rt["labels"]["primary_pollutants"]) == (54, "o3")
    assert out["air.pm25.mean_24h|s1|2025-01-01T07"]["status"] == "insufficient-data"


def test_outcomes_duplicate_correction_and_too_late() -> None:
    state, records, outcomes, _ = run(
        [reading(0, 10.0), reading(1, 20.0), reading(1, 20.0), reading(1, 40.0, rev=1), reading(1, 5.0)]
    )
    assert [o.kind for o in outcomes] == ["new", "new", "duplicate", "correction", "stale-revision"]
    corrected = latest(records, "air.pm25.daily_mean", "2025-01-01")
    assert corrected["value"] == 25.0 and corrected["revision"] == 1 + 2  # (10 + 40) / 2; weights 1 + (1 + 1)
    late = process_station(process_station(state, reading(20, 1.0), CTX).state, reading(13, 1.0), CTX)
    assert late.outcome.kind == "too-late" and late.outcome.dead_letter and not late.records
    assert "allowed lateness 6:00:00" in late.outcome.reason
    at_edge = process_station(process_station(state, reading(20, 1.0), CTX).state, reading(14, 1.0), CTX)
    assert at_edge.outcome.accepted  # exactly 6 h behind the newest: still within the lateness


def test_invalid_flags_count_as_missing_hours() -> None:
    readings = [reading(h, 30.0) for h in range(20)]
    readings[0] = AirReading.model_validate({**readings[0].model_dump(), "quality_flags": {"pm25": "M"}})
    _, records, _, _ = run(readings)
    assert latest(records, "air.pm25.daily_mean", "2025-01-01")["samples"] == 19


def test_batch_gives_the_same_state_and_final_records() -> None:
    readings = [reading(h, float(h % 17), o3=float(h)) for h in range(30)]
    state, records, _, _ = run(readings)
    batch_state, _, batch_records, _ = process_station_batch(None, readings, CTX)
    assert canonical(batch_state) == canonical(state)
    assert final(batch_records) == final(records)


def test_a_batch_longer_than_the_kept_hours_still_gives_every_bucket_its_final_value() -> None:
    # 80 h in one batch: the state keeps only lateness + 26 h of hours, so pruning before emitting would lose the
    # first buckets' records.
    readings = [reading(h, float(h % 23)) for h in range(80)]
    state, records, _, _ = run(readings)
    batch_state, _, batch_records, _ = process_station_batch(None, readings, CTX)
    assert canonical(batch_state) == canonical(state)
    assert final(batch_records) == final(records)
    split_state, _, first_half, _ = process_station_batch(None, readings[:40], CTX)
    split_state, _, second_half, _ = process_station_batch(split_state, readings[40:], CTX)
    assert canonical(split_state) == canonical(state)
    assert final(first_half + second_half) == final(records)


@settings(max_examples=12, deadline=None)
@given(
    offsets=st.lists(st.floats(0, 0.999), min_size=1, max_size=40),
    corrected=st.sets(st.integers(0, 29), max_size=4),
    duplicated=st.sets(st.integers(0, 29), max_size=4),
)
def test_shuffled_duplicated_and_corrected_input_within_the_lateness_equals_the_ordered_run(
    offsets: list[float], corrected: set[int], duplicated: set[int]
) -> None:
    # 30 hours straddling midnight (19:00 on day 1 to 01:00 on day 3), corrections at the same time as the original.
    hours = range(19, 49)
    base = [reading(h, float((h * 7) % 23), o3=float(h % 11) * 10, pm10=40.0 + h % 5) for h in hours]
    fixes = [reading(h, 99.0, rev=1, o3=1.0, pm10=1.0) for i, h in enumerate(hours) if i in corrected]
    dups = [base[i] for i in duplicated]
    items = base + fixes + dups
    times = [r.observed_at.timestamp() for r in items]
    ordered = sorted(range(len(items)), key=lambda i: (times[i], items[i].revision))
    state_a, records_a, _, contrib_a = run([items[i] for i in ordered])
    shuffled = shuffle_within(items, times, CTX.lateness.allowed_s, offsets)
    state_b, records_b, outcomes_b, contrib_b = run(shuffled)
    # A correction shuffled ahead of its original turns the original into a stale revision: dead-lettered, so its
    # publisher hears of it; nothing else may be refused.
    assert all(o.kind == "stale-revision" for o in outcomes_b if o.dead_letter)
    assert canonical(state_b) == canonical(state_a)
    assert final(records_b) == final(records_a)
    last = lambda cs: {(c.site, c.bucket): c for c in cs}  # noqa: E731
    assert last(contrib_b) == last(contrib_a)


def test_state_survives_a_json_round_trip_like_a_changelog_restore() -> None:
    readings = [reading(h, float(h), o3=float(h)) for h in range(30)]
    state, records, _, _ = run(readings)
    restored = None
    tail: list = []
    for i, r in enumerate(readings):
        res = process_station(restored, r, CTX)
        restored = json.loads(json.dumps(res.state)) if i == 14 else res.state  # "crash" after reading 14
        tail.extend(res.records)
    assert canonical(restored) == canonical(state)
    assert final(tail) == final(records)
