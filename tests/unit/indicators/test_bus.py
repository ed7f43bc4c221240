import datetime as dt

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.bus import (
    BusContext,
    ModeShareContext,
    fleet_clean_energy_share,
    holidays_day_type,
    process_area,
    process_route,
)
from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.schemas.bus import BusRidership, ModeShareRecord
from citywatch.site_registry import load_registry
from tests.unit.indicators.helpers import ZONE, canonical, final
from tests.unit.indicators.one_at_a_time import ordered_and_shuffled, run_each

MONDAY = dt.datetime(2025, 3, 3, 8, tzinfo=ZONE)
HOLIDAY = dt.date(2025, 3, 10)  # pretend the second Monday is a holiday
CTX = BusContext(zone=ZONE, day_type=holidays_day_type([HOLIDAY]), district="wj")
SAMPLE_REGISTRY = "registry/wujiang-sample.yaml"


def count(day: int, boardings: int, *, hour: int = 0, vehicle: str = "v1", energy: str = "electric", rev: int = 0,
          route: str = "r1") -> BusRidership:  # fmt: skip
    start = MONDAY + dt.timedelta(days=day, hours=hour)
    return BusRidership(
        route=route,
        interval_start=start,
        interval_end=start + dt.timedelta(minutes=30),
        boardings=boardings,
        vehicle=vehicle,
        energy_type=energy,  # type: ignore[arg-type]
        revision=rev,
    )


def run(counts, ctx=CTX):
    return run_each(process_route, counts, ctx)


def test_day_against_the_same_weekday_of_four_weeks_holidays_excluded() -> None:
    # Mondays 03-03, 03-10 (holiday), 03-17, 03-24 and then 03-31: baseline = mean(100, 120, 140) = 120 (the holiday's
    # 1000 excluded); 03-31 has 150 -> 1.25.
    counts = [count(0, 100), count(7, 1000), count(14, 120), count(21, 140), count(28, 100), count(28, 50, hour=2)]
    _, records, _, _ = run(counts)
    out = final(records)
    assert out["bus.boardings.day|r1|2025-03-31"]["value"] == 150
    ratio = out["bus.boardings.vs_baseline|r1|2025-03-31"]
    assert ratio["value"] == 1.25 and ratio["labels"]["baseline"] == "120"
    assert ratio["labels"]["baseline_days"] == "2025-03-24,2025-03-17,2025-03-03"
    assert out["bus.boardings.day|r1|2025-03-10"]["labels"]["day_type"] == "holiday"


def test_each_day_says_how_much_of_the_baselines_history_the_route_has() -> None:
    # issue 17: "needs 28 days of data: 3 so far" -- days with boardings among the 28 up to the day, from the
    # worker's own state (a backfilled route has its history at once)
    counts = [count(0, 100), count(1, 100), count(3, 100), count(30, 100)]
    out = final(run(counts)[1])
    assert [out[f"bus.baseline.history_days|r1|{d}"]["value"] for d in ("2025-03-03", "2025-03-04", "2025-03-06")] == [
        1,
        2,
        3,
    ]
    assert out["bus.baseline.history_days|r1|2025-04-02"]["value"] == 2  # 03-06 and 04-02; 03-03, 03-04 fell out
    full = final(run([count(d, 10) for d in range(40)])[1])
    assert full["bus.baseline.history_days|r1|2025-04-11"]["value"] == 28


def ridership(day: dt.date, boardings: int) -> BusRidership:
    start = dt.datetime.combine(day, dt.time(8), ZONE)
    return BusRidership(
        route="r1",
        interval_start=start,
        interval_end=start + dt.timedelta(minutes=30),
        boardings=boardings,
        vehicle="v1",
        energy_type="electric",
    )


def test_holidays_and_make_up_workdays_stay_out_of_the_baseline() -> None:
    # Saturdays before 2026-03-07 in China's calendar (chinesecalendar): 02-07 a weekend day, 02-14 and 02-28 worked
    # (调休上班, day type workday), 02-21 in the Spring Festival. Only 02-07 is like the day.
    ctx = BusContext(zone=ZONE, day_type=load_registry(SAMPLE_REGISTRY).day_type, district="wj")
    saturdays = {"2026-02-07": 700, "2026-02-14": 1000, "2026-02-21": 400, "2026-02-28": 1000, "2026-03-07": 770}
    _, records, _, _ = run([ridership(dt.date.fromisoformat(d), b) for d, b in saturdays.items()], ctx)
    out = final(records)
    ratio = out["bus.boardings.vs_baseline|r1|2026-03-07"]
    assert ratio["labels"]["baseline_days"] == "2026-02-07"
    assert ratio["value"] == 1.1 and ratio["labels"]["day_type"] == "weekend"
    assert out["bus.boardings.day|r1|2026-02-14"]["labels"]["day_type"] == "workday"
    assert out["bus.boardings.day|r1|2026-02-21"]["labels"]["day_type"] == "holiday"


def test_a_day_the_calendar_does_not_know_is_unknown_with_the_reason() -> None:
    # The first Monday after the package's last year (chinesecalendar 1.11.0: 2027-01-04) and the Monday before it.
    year = max(chinese_calendar.holidays).year + 1
    monday = dt.date(year, 1, 1) + dt.timedelta(days=-dt.date(year, 1, 1).weekday() % 7)
    before = monday - dt.timedelta(weeks=1)
    ctx = BusContext(zone=ZONE, day_type=load_registry(SAMPLE_REGISTRY).day_type, district="wj")
    _, records, _, _ = run([ridership(before, 100), ridership(monday, 90)], ctx)
    out = final(records)
    assert out[f"bus.boardings.day|r1|{before}"]["labels"] == {"day_type": "workday"}
    for key in (f"bus.boardings.day|r1|{monday}", f"bus.boardings.vs_baseline|r1|{monday}"):
        labels = out[key]["labels"]
        assert labels["day_type"] == "unknown", key
        assert f"no year {year}" in labels["day_type_reason"] and "registry" in labels["day_type_reason"], key
    assert out[f"bus.boardings.vs_baseline|r1|{monday}"]["value"] == 0.9, "an unknown day still has its baseline"


def test_interval_totals_and_corrections() -> None:
    _, records, outcomes, _ = run([count(0, 10), count(0, 5, vehicle="v2"), count(0, 12, rev=1), count(0, 12, rev=1)])
    assert [o.kind for o in outcomes] == ["new", "new", "correction", "duplicate"]
    interval = final(records)["bus.boardings.interval|r1|2025-03-03T08:00:00+08:00"]
    assert interval["value"] == 17 and interval["revision"] == 1 + 2  # 12 + 5; weights 1 + (1 + 1)


def test_clean_energy_share_of_vehicles_seen_and_of_the_registry_fleet() -> None:
    contributions = run([count(0, 1, vehicle="a"), count(0, 1, vehicle="b", energy="diesel")])[3]
    contributions += run([count(0, 1, vehicle="c", route="r2"), count(0, 1, vehicle="a", route="r2")])[3]
    _, _, records = process_district_batch(None, contributions, DistrictContext(zone=ZONE))
    share = final(records)["bus.clean_energy_share.day|wj|2025-03-03"]
    assert share["value"] == 2 / 3  # a, c electric; b diesel; a counted once
    fleet = fleet_clean_energy_share(
        ["electric"] * 8 + ["hybrid", "diesel"], district="wj", on=dt.date(2025, 3, 3), zone=ZONE
    )
    assert fleet is not None and fleet.value == 0.8 and fleet.standard == "clean_energy_bus_share"


def test_public_transport_share_day_and_year_to_date() -> None:
    shares = [
        ModeShareRecord(
            area="wj",
            date=dt.date(2025, 3, day),
            all_trips=every,
            public_transport_trips=pt,
            source="smart_card" if pt != 40 else "travel_survey",
        )
        for day, pt, every in ((1, 30, 100), (2, 45, 100), (2, 40, 100))
    ]
    out = final(run_each(process_area, shares, ModeShareContext(zone=ZONE))[1])
    assert out["mode_share.public_transport.day|wj|2025-03-02"]["value"] == 0.45  # smart card preferred
    assert out["mode_share.public_transport.ytd|wj|2025"]["value"] == 0.375  # (30 + 45) / 200


@settings(max_examples=15, deadline=None)
@given(
    offsets=st.lists(st.floats(0, 0.999), min_size=1, max_size=30),
    sizes=st.lists(st.integers(0, 60), min_size=8, max_size=24),
)
def test_shuffled_counts_within_the_lateness_equal_the_ordered_run(offsets, sizes) -> None:
    # Counts every 5 h over ~5 days, plus the same route four weeks earlier for the baseline, and corrections.
    items = [count(i * 5 // 24, n, hour=i * 5 % 24, vehicle=f"v{i % 3}") for i, n in enumerate(sizes)]
    items += [count(i * 5 // 24 + 7, n + 1, hour=i * 5 % 24) for i, n in enumerate(sizes)]
    items += [count(0, 99, hour=0, vehicle="v0", rev=3)]
    times = [c.interval_start.timestamp() for c in items]
    # Ordered by event time; within the lateness of each other so both runs accept everything.
    ctx = BusContext(
        zone=ZONE, day_type=CTX.day_type, district="wj", lateness=CTX.lateness.__class__(dt.timedelta(days=30))
    )
    a, b = ordered_and_shuffled(lambda counts: run(counts, ctx), items, times, 3 * 3600, offsets)
    assert canonical(b[0]) == canonical(a[0])
    assert final(b[1]) == final(a[1])
