"""`BySite`: the engine's per-site index stays in step with the dict it indexes."""

from __future__ import annotations

from citywatch.rule_engine.engine import BySite


def test_of_site_and_drop_site_touch_only_that_site() -> None:
    entries = BySite(((f"rule-{r}", f"site-{s}"), r * 100 + s) for r in range(3) for s in range(50))
    entries[("rule-0", "site-7")] = -1  # overwriting keeps one key
    assert entries.of_site("site-7") == [
        (("rule-0", "site-7"), -1),
        (("rule-1", "site-7"), 107),
        (("rule-2", "site-7"), 207),
    ]
    entries.drop_site("site-7")
    assert entries.of_site("site-7") == [] and len(entries) == 3 * 49
    assert all(site != "site-7" for _, site in entries)
    entries.drop_site("never-seen")
    entries[("rule-9", "site-7")] = 5
    assert entries.of_site("site-7") == [(("rule-9", "site-7"), 5)] and entries.get(("rule-9", "site-7")) == 5
