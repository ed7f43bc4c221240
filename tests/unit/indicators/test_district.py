import datetime as dt
from fractions import Fraction

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


# --- the city's running sums per day (issue 18 item 3) ------------------------------------------------------------


def _contribution(site: str, pm25: str | None, o3: str | None, revision: int, day: str = "2025-01-01"):
    from citywatch.indicators.records import Contribution

    return Contribution(
        stage="air.city",
        district="wj",
        site=site,
        bucket=day,
        values={"pm25_24h": pm25, "o3_8h": o3},
        revision=revision,
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d"]),
            st.one_of(st.none(), st.integers(0, 500).map(lambda v: f"{v}/10")),
            st.one_of(st.none(), st.integers(0, 400).map(str)),
            st.integers(0, 5),
            st.sampled_from(["2025-01-01", "2025-01-02"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_running_sums_equal_the_sums_over_the_sites_after_any_corrections(changes) -> None:
    """New values, corrections (a higher revision replaces a site's values, including with None), duplicates and
    stale revisions: the running sums are always exactly what summing the sites' current values gives, and so is
    the city AQI record."""
    from citywatch.indicators.district import city_days
    from citywatch.standards import city_daily_aqi

    state = None
    for site, pm25, o3, revision, day in changes:
        state, _, _ = process_district_batch(state, [_contribution(site, pm25, o3, revision, day)], DCTX)
    assert state is not None
    rebuilt = {k: v for k, v in state.items() if k != "city"}
    assert state["city"] == city_days(rebuilt)  # type: ignore[arg-type]
    for day, sites in state["stages"]["air.city"].items():
        stations = [{n: Fraction(v) for n, v in e["v"].items() if v is not None} for e in sites.values()]
        stations = [s for s in stations if s]
        expected = city_daily_aqi(stations, dt.date.fromisoformat(day)).result.aqi if stations else None
        assert state["agg"]["air.city"].get(day) == expected


def test_a_contribution_to_a_day_of_many_stations_reads_only_its_own_values(monkeypatch) -> None:
    """The city AQI of a day comes from its running sums: folding one station's correction into a day of 5,000
    stations checks that station's values, not every station's."""
    import citywatch.indicators.district as district

    many = [_contribution(f"s{i:04}", f"{i % 300}/10", str(i % 200), 1) for i in range(5000)]
    state, _, _ = process_district_batch(None, many, DCTX)
    read: list[str] = []
    real = district.to_concentration
    monkeypatch.setattr(district, "to_concentration", lambda v, name: read.append(name) or real(v, name=name))
    state, _, records = process_district_batch(state, [_contribution("s0042", "900/10", "80", 2)], DCTX)
    assert read == ["pm25_24h", "o3_8h"]
    city = final(records)["air.city.aqi.daily|wj|2025-01-01"]
    assert city["labels"]["stations"] == "5000"
    stations = [{"pm25_24h": Fraction(i % 300, 10), "o3_8h": Fraction(i % 200)} for i in range(5000)]
    stations[42] = {"pm25_24h": Fraction(90), "o3_8h": Fraction(80)}
    from citywatch.standards import city_daily_aqi

    assert city["value"] == city_daily_aqi(stations, dt.date(2025, 1, 1)).result.aqi
    assert city["revision"] == 5001


def test_a_state_stored_before_the_running_sums_gets_them_from_its_sites() -> None:
    contributions = station_contributions("a", 35, 150) + station_contributions("b", 115, 50)
    state = process_district_batch(None, contributions, DCTX)[0]
    old = {k: v for k, v in state.items() if k != "city"}
    again = process_district_batch(old, [_contribution("c", "75", None, 1)], DCTX)  # type: ignore[arg-type]
    fresh = process_district_batch(state, [_contribution("c", "75", None, 1)], DCTX)
    assert canonical(again[0]) == canonical(fresh[0])
    assert final(again[2]) == final(fresh[2])
