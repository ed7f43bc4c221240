import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from citywatch.indicators.district import DistrictContext, process_district
from citywatch.indicators.water import WaterContext, process_section
from citywatch.schemas.water import WaterSample
from tests.unit.indicators.helpers import ZONE, canonical, final
from tests.unit.indicators.one_at_a_time import ordered_and_shuffled, run_each

CTX = WaterContext(zone=ZONE, target_class="III", district="wj")
T0 = dt.datetime(2025, 1, 6, 10, tzinfo=ZONE)


def sample(
    day: float, nh3n: float, *, rev: int = 0, method: str = "manual", section: str = "w1", **extra: float
) -> WaterSample:
    return WaterSample.model_validate(
        {
            "section": section,
            "sampled_at": T0 + dt.timedelta(days=day),
            "kind": "river",
            "method": method,
            "NH3N": nh3n,
            "unit": "mg/L",
            "revision": rev,
            **extra,
        }
    )


def run(samples, ctx=CTX):
    return run_each(process_section, samples, ctx)


def test_sample_month_and_quarter_class_with_target_and_main_pollutants() -> None:
    # NH3-N 0.9 (III) and 1.2 (IV): monthly mean 1.05 -> IV (1.0 < 1.05 <= 1.5), never the worst sample.
    _, records, _, contributions = run([sample(0, 0.9, O2=6.5), sample(7, 1.2, O2=6.5)])
    out = final(records)
    assert [r.value for r in records if r.indicator == "water.class.sample"] == [3, 4]
    month = out["water.class.month|w1|2025-01"]
    assert (month["value"], month["labels"]["class"], month["labels"]["main_pollutants"]) == (4, "IV", "nh3n")
    assert out["water.target_met.month|w1|2025-01"]["status"] == "not-met"
    quarter = out["water.class.quarter|w1|2025Q1"]
    assert (quarter["value"], quarter["status"], quarter["samples"]) == (4, "valid", 2)
    last = {(c.site, c.bucket): c for c in contributions}
    assert last[("w1", "2025-01")].values == {"class": 4}


def test_a_quarter_needs_two_samples() -> None:
    _, records, _, contributions = run([sample(0, 0.4)])
    out = final(records)
    assert out["water.class.quarter|w1|2025Q1"]["status"] == "insufficient-data"
    assert "water.target_met.quarter|w1|2025Q1" not in out
    assert {c.bucket: c.values["class"] for c in contributions} == {"2025-01": 2, "2025Q1": None}


def test_lateness_depends_on_the_method() -> None:
    state, _, _, _ = run([sample(30, 0.4, method="automatic")])
    manual_weeks_late = process_section(state, sample(0, 0.4), CTX)  # 30 days late, manual: allowed 6 weeks
    assert manual_weeks_late.outcome.accepted
    automatic_late = process_section(state, sample(27, 0.4, method="automatic"), CTX)  # 3 days late > 48 h
    assert automatic_late.outcome.kind == "too-late"


def test_correction_replaces_the_sample_in_the_mean() -> None:
    _, records, outcomes, _ = run([sample(0, 0.9), sample(7, 1.2), sample(7, 0.3, rev=1)])
    assert outcomes[-1].kind == "correction"
    month = final(records)["water.class.month|w1|2025-01"]
    assert month["value"] == 3 and month["revision"] == 1 + 2  # mean 0.6 -> III


def test_district_good_iii_share() -> None:
    # Three sections: III, IV, II -> 优Ⅲ share 2/3.
    contributions = []
    for name, value in (("a", 0.9), ("b", 1.2), ("c", 0.4)):
        contributions += run([sample(0, value, section=name)])[3]
    state, records, _, _ = run_each(process_district, contributions, DistrictContext(zone=ZONE))
    share = final(records)["water.good_iii_share.month|wj|2025-01"]
    assert share["value"] == 2 / 3 and share["labels"] == {"good_iii": "2", "sections": "3"}
    again = process_district(state, contributions[0], DistrictContext(zone=ZONE))
    assert again.outcome.kind == "duplicate" and not again.records


@settings(max_examples=15, deadline=None)
@given(
    offsets=st.lists(st.floats(0, 0.999), min_size=1, max_size=30),
    values=st.lists(st.sampled_from([0.1, 0.4, 0.9, 1.2, 1.7, 2.5]), min_size=6, max_size=14),
    fix=st.sets(st.integers(0, 13), max_size=3),
)
def test_shuffled_samples_within_the_lateness_equal_the_ordered_run(offsets, values, fix) -> None:
    items = [sample(i * 9.5, v, TP=v / 10) for i, v in enumerate(values)]  # ~ every 9.5 days: crosses months
    items += [sample(i * 9.5, 0.2, rev=2, TP=0.05) for i in fix if i < len(values)]
    times = [s.sampled_at.timestamp() for s in items]
    a, b = ordered_and_shuffled(run, items, times, CTX.manual.allowed_s, offsets)
    assert all(o.kind == "stale-revision" for o in b[2] if o.dead_letter)  # an original shuffled after its fix
    assert canonical(b[0]) == canonical(a[0])
    assert final(b[1]) == final(a[1])


def test_water_state_is_plain_json() -> None:
    state = run([sample(0, 0.9), sample(3, 1.2, rev=1)])[0]
    assert json.loads(json.dumps(state)) == state
