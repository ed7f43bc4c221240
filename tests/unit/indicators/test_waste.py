import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.district import DistrictContext, process_district_batch
from citywatch.indicators.waste import WasteContext, process_plant
from citywatch.schemas.waste import WasteRecord
from tests.unit.indicators.helpers import ZONE, canonical, final
from tests.unit.indicators.one_at_a_time import ordered_and_shuffled, run_each

CTX = WasteContext(zone=ZONE, capacity_t_per_day=2880, district="wj")
T0 = dt.datetime(2025, 5, 1, 6, tzinfo=ZONE)


def delivery(
    hour: float, tonnes: float, kind: str = "household", *, rev: int = 0, plant: str = "p1", ticket: str | None = None
) -> WasteRecord:
    return WasteRecord.model_validate(
        {"plant": plant, "period": "delivery", "delivered_at": T0 + dt.timedelta(hours=hour), "waste_kind": kind,
         "incinerated_tonnes": tonnes, "revision": rev, "ticket": ticket or f"t{hour}"}
    )  # fmt: skip


def day_record(day: dt.date, kind: str, plant: str = "p1", **tonnes: float) -> WasteRecord:
    return WasteRecord.model_validate({"plant": plant, "period": "day", "date": day, "waste_kind": kind, **tonnes})


def run(records, ctx=CTX):
    return run_each(process_plant, records, ctx)


def test_tonnes_utilisation_and_a_daily_record_replacing_deliveries() -> None:
    # Deliveries 90 + 54 = 144 t of household waste; capacity 2880 t/day -> utilisation 0.05.
    _, records, _, _ = run([delivery(0, 90), delivery(1, 54)])
    out = final(records)
    assert out["waste.tonnes.day|p1|2025-05-01"]["value"] == 144
    assert out["waste.utilisation.day|p1|2025-05-01"]["value"] == 0.05
    # The plant's daily total of household waste (2000 t) replaces the deliveries of that kind, never adds to them.
    _, records, _, _ = run(
        [delivery(0, 90), delivery(1, 54), day_record(dt.date(2025, 5, 1), "household", incinerated_tonnes=2000)]
    )
    assert final(records)["waste.tonnes.day|p1|2025-05-01"]["value"] == 2000


def test_hazardous_year_to_date_and_sorted_treatment_rate_with_the_district_stage() -> None:
    plant = run(
        [delivery(0, 10.5, "hazardous"), delivery(30, 20.25, "hazardous"),
         day_record(dt.date(2025, 5, 1), "food", sorted_collected_tonnes=400, sorted_treated_tonnes=398)]
    )  # fmt: skip
    out = final(plant[1])
    assert out["waste.hazardous.ytd|p1|2025"]["value"] == 30.75
    assert out["waste.sorted_treatment_rate.day|p1|2025-05-01"]["value"] == 0.995
    other = run([day_record(dt.date(2025, 5, 2), "food", "p2", sorted_collected_tonnes=100, sorted_treated_tonnes=100)])
    _, _, district = process_district_batch(None, plant[3] + other[3], DistrictContext(zone=ZONE))
    d = final(district)
    assert d["waste.district.hazardous.ytd|wj|2025"]["value"] == 30.75
    assert d["waste.district.sorted_treatment_rate.ytd|wj|2025"]["value"] == 498 / 500


def test_too_late_beyond_three_days() -> None:
    state = run([delivery(100, 1)])[0]
    assert process_plant(state, delivery(20, 1), CTX).outcome.kind == "too-late"


@settings(max_examples=15, deadline=None)
@given(
    offsets=st.lists(st.floats(0, 0.999), min_size=1, max_size=30),
    tonnes=st.lists(st.decimals("0.1", "99.9", places=1).map(float), min_size=5, max_size=25),
)
def test_shuffled_records_within_the_lateness_equal_the_ordered_run(offsets, tonnes) -> None:
    items = [delivery(i * 7.0, t, "hazardous" if i % 3 == 0 else "household") for i, t in enumerate(tonnes)]
    items += [delivery(0, 1.5, "hazardous", rev=1)]  # correction of the first delivery
    times = [r.event_time(ZONE).timestamp() for r in items]
    a, b = ordered_and_shuffled(run, items, times, CTX.lateness.allowed_s, offsets)
    assert all(o.kind == "stale-revision" for o in b[2] if o.dead_letter)  # an original shuffled after its fix
    assert canonical(b[0]) == canonical(a[0])
    assert final(b[1]) == final(a[1])
