import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.air_station import AirContext, process_station
from citywatch.indicators.district import DistrictContext, process_district, process_district_batch
from citywatch.schemas.air import AirReading
from tests.unit.indicators.helpers import ZONE, canonical, final

DAY1 = dt.datetime(2025, 1, 1, tzinfo=ZONE)
AIR = AirContext(zone=ZONE, district="wj")
DCTX = DistrictContext(zone=ZONE)


def reading(station: str, hour: int, pm25: float, pm10: float) -> AirReading:
    return AirReading(
        station=station, observed_at=DAY1 + dt.timedelta(hours=hour + 1), pm25=pm25, pm10=pm10, pm10_unit="µg/m³"
    )


def station_contributions(station: str, pm25: float, pm10: float):
    state, out = None, []
    for h in range(24):
        res = process_station(state, reading(station, h, pm25, pm10), AIR)
        state = res.state
        out += res.contributions
    return out


def test_city_daily_aqi_averages_concentrations_not_station_aqis() -> None:
    # Station a: PM2.5 35 (IAQI 50), PM10 150 (IAQI 100); station b: PM2.5 115 (IAQI 150), PM10 50 (IAQI 50).
    # City means: PM2.5 75 -> IAQI 100, PM10 100 -> IAQI 75: city AQI 100 (the mean of station AQIs would be 125).
    contributions = station_contributions("a", 35, 150) + station_contributions("b", 115, 50)
    _, _, records = process_district_batch(None, contributions, DCTX)
    out = final(records)
    city = out["air.city.aqi.daily|wj|2025-01-01"]
    assert (city["value"], city["labels"]["primary_pollutants"], city["labels"]["stations"]) == (100, "pm25", "2")
    assert out["air.city.pm25.daily_mean|wj|2025-01-01"]["value"] == 75
    assert out["air.city.good_day_share_ytd|wj|2025"]["value"] == 1.0


def test_two_workers_splitting_the_stations_give_the_single_worker_s_result() -> None:
    a, b, c = (station_contributions(s, p, 40) for s, p in (("a", 20), ("b", 60), ("c", 100)))
    # One worker: stations in order. Two workers: a+c on one, b on the other (delivered twice: at-least-once),
    # their outputs interleaved on the district topic.
    single = process_district_batch(None, a + b + c, DCTX)
    interleaved = [x for pair in zip(a + c, b + b, strict=False) for x in pair if x is not None]
    split = process_district_batch(None, interleaved + (a + c)[len(b + b) :], DCTX)
    assert canonical(split[0]) == canonical(single[0])
    assert final(split[2]) == final(single[2])


def test_replayed_contribution_is_a_duplicate_and_an_older_one_is_stale() -> None:
    contributions = station_contributions("a", 30, 40)
    state = process_district_batch(None, contributions, DCTX)[0]
    assert process_district(state, contributions[-1], DCTX).outcome.kind == "duplicate"
    assert process_district(state, contributions[3], DCTX).outcome.kind == "stale-revision"


@settings(max_examples=20, deadline=None)
@given(st.permutations(list(range(72))))
def test_any_arrival_order_of_contributions_gives_the_same_district_result(order) -> None:
    contributions = station_contributions("a", 30, 40) + station_contributions("b", 80, 10)
    contributions += station_contributions("c", 55, 160)
    ordered = process_district_batch(None, contributions, DCTX)
    one_by_one, records = None, []
    for i in order:
        res = process_district(one_by_one, contributions[i], DCTX)
        one_by_one = res.state
        records += res.records
    assert canonical(one_by_one) == canonical(ordered[0])
    assert final(records) == final(ordered[2])


def _contributions_over_years() -> list:
    """Air contributions of three stations on days across a year boundary, revised and repeated."""
    out = []
    for station, pm25 in (("a", 30), ("b", 80), ("c", 120)):
        for base in (station_contributions(station, pm25, 60),):
            out += base
            for shift_days in (200, 380, 760):  # into 2025, 2026 and 2027: older buckets get pruned
                out += [c.model_copy(update={"bucket": _shift(c.bucket, shift_days)}) for c in base[-3:]]
    return out


def _shift(bucket: str, days: int) -> str:
    return (dt.date.fromisoformat(bucket) + dt.timedelta(days=days)).isoformat()


OVER_YEARS = _contributions_over_years()


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=40))
def test_a_batch_leaves_what_one_contribution_at_a_time_leaves(rng, size: int) -> None:
    contributions = list(OVER_YEARS)
    rng.shuffle(contributions)
    contributions += contributions[: len(contributions) // 5]  # repeats: duplicates and stale revisions
    one_state, one_kinds, one_records = None, [], []
    for c in contributions:
        result = process_district(one_state, c, DCTX)
        one_state = result.state
        one_kinds.append(result.outcome.kind)
        one_records += result.records
    state, kinds, records = None, [], []
    for at in range(0, len(contributions), size):
        state, outcomes, out = process_district_batch(state, contributions[at : at + size], DCTX)
        kinds += [o.kind for o in outcomes]
        records += out
    assert kinds == one_kinds
    assert canonical(state) == canonical(one_state)
    assert final(records) == final(one_records)
