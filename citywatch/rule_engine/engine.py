"""The worker's rule engine: the rule set plus the state rules need between records. Pure: no I/O, no clock.

- `on_record(record, received_at)` evaluates every rule of the record's indicator (instant, windowed, rate of
  change), remembering the values windowed and rate rules look back on, and, for an indicator a staleness rule
  watches, the processing time the site's indicator last arrived;
- `stale(now)` judges the staleness rules for every site in their scope (a site never seen counts from `started`);
- `reload(rules)` swaps the rule set and reports what changed;
- `export_site` / `load_site` turn one site's state into JSON and back: the worker keeps it in its faust table
  next to the site's own state, so it survives restarts and follows the site's partition (docs/architecture.md).

The worker keeps the table authoritative: it calls `load_site` before a site's records and stores `export_site`
after them; the timer loads the sites it judges that were not loaded since the last rebalance (`forget`).

Outcomes are published when they change, staleness and record rules alike (so the rule-evaluations topic carries
news, not a copy of every indicator): a record rule's outcome is sent when it differs from the last one sent for its
alert (`_sent`, kept with the site's state), or is older than that one (the alert service judges late outcomes by
event time itself), or when its rule has `for` or `keep_firing_for`, whose lifecycle timers need the outcome repeated
on every record or tick. A breach of staleness clears as soon as a record of the indicator arrives, not at the next
tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.rule_engine.evaluation import (
    Outcome,
    RuleEvaluation,
    Sample,
    describe,
    evaluate_staleness,
    history_span,
    judge,
    remember,
    retirement,
)
from citywatch.rule_engine.kinds import kind_of
from citywatch.rule_engine.model import Rule
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.site_registry import Registry

SITE_STATE_VERSION = 1

SiteState = dict[str, Any]
"""One site's engine state as JSON: {"v": 1, "history": {rule id: {"key": …, "samples": [[iso time, value], …]}},
"last_seen": {indicator: iso time}, "sent": {rule id: [outcome, iso event time]}}."""


@dataclass(frozen=True)
class ReloadDiff:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def __str__(self) -> str:
        parts = [f"{name} {', '.join(ids)}" for name, ids in self._named() if ids]
        parts.append(f"{len(self.unchanged)} unchanged")
        return "; ".join(parts)

    def _named(self) -> list[tuple[str, tuple[str, ...]]]:
        return [("added", self.added), ("changed", self.changed), ("removed", self.removed)]


def definition(rule: Rule) -> str:
    """A rule's whole definition, to tell a changed rule from an unchanged one."""
    return rule.model_dump_json(by_alias=True)


def history_key(rule: Rule) -> str:
    """What a rule's remembered values depend on: its indicator and how far back it looks. A reload that changes
    only a threshold, severity or annotation keeps the values; one that changes the window or lookback drops them."""
    return f"{rule.indicator}|{history_span(rule).total_seconds():g}s"


def diff_rules(old: Iterable[Rule], new: Iterable[Rule]) -> ReloadDiff:
    before = {r.id: definition(r) for r in old}
    after = {r.id: definition(r) for r in new}
    return ReloadDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        changed=tuple(sorted(i for i in after.keys() & before.keys() if after[i] != before[i])),
        removed=tuple(sorted(before.keys() - after.keys())),
        unchanged=tuple(sorted(i for i in after.keys() & before.keys() if after[i] == before[i])),
    )


V = TypeVar("V")


class BySite(dict[tuple[str, str], V], Generic[V]):
    """A dict keyed by (rule id or indicator, site) that also knows each site's keys: loading and exporting one
    site's state must not scan every site's (a worker with 100k sites does it for each site of every batch)."""

    def __init__(self, items: Iterable[tuple[tuple[str, str], V]] = ()) -> None:
        super().__init__()
        self._keys: dict[str, set[tuple[str, str]]] = {}
        for key, value in items:
            self[key] = value

    def __setitem__(self, key: tuple[str, str], value: V) -> None:
        super().__setitem__(key, value)
        self._keys.setdefault(key[1], set()).add(key)

    def of_site(self, site: str) -> list[tuple[tuple[str, str], V]]:
        """The site's entries, sorted by key."""
        return [(key, self[key]) for key in sorted(self._keys.get(site, ()))]

    def drop_site(self, site: str) -> None:
        for key in self._keys.pop(site, ()):
            super().__delitem__(key)


class RuleEngine:
    """Rules and their per-site state on one worker. `started` is when the watch began (engine start, or the last
    `forget`): a site never seen counts as silent since then."""

    def __init__(
        self, rules: Sequence[Rule], registry: Registry | None = None, *, started: datetime, historical: bool = False
    ) -> None:
        self._registry = registry
        self._names = {} if registry is None else {s.id: f"{s.name_en} {s.name_zh}" for s in registry.all_sites()}
        self.started = started
        self.historical = historical  # judges backfilled history: its evaluations are marked, nobody is paged
        self._history: BySite[tuple[Sample, ...]] = BySite()  # (rule id, site) -> samples
        self._last_seen: BySite[datetime] = BySite()  # (indicator, site) -> processing time
        self._published: dict[tuple[str, str], Outcome] = {}  # (staleness rule id, site) -> last outcome sent
        self._sent: BySite[tuple[Outcome, datetime]] = BySite()  # (rule id, site) -> last outcome sent, its time
        self._loaded: set[str] = set()
        self._tracked_since: dict[str, datetime] = {}  # indicator -> when a reload made a staleness rule watch it
        self._newly_tracked: set[str] = set()  # watched since a reload, not yet since a `stale`
        self._set_rules(rules)

    # --- the rule set ---------------------------------------------------------------------------------------------
    def _set_rules(self, rules: Sequence[Rule]) -> None:
        self._rules = list(rules)
        self._by_id = {r.id: r for r in self._rules}
        self._by_indicator: dict[str, list[Rule]] = {}
        for rule in self._rules:
            self._by_indicator.setdefault(rule.indicator, []).append(rule)
        self._staleness = [r for r in self._rules if kind_of(r).on_clock]
        self._watched = {r.id: self._registry_sites(r) for r in self._staleness}
        # Arrivals are remembered only for indicators a staleness rule watches: one timestamp per site and indicator
        # of every record was ~2.5 KB per site.
        self._tracked = {r.indicator for r in self._staleness}

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules)

    def reload(self, rules: Sequence[Rule]) -> ReloadDiff:
        """Use `rules` from now on. Remembered values stay for rules whose `history_key` is unchanged; published
        staleness outcomes of changed rules are forgotten, so the next `stale` publishes them afresh."""
        diff = diff_rules(self._rules, rules)
        old_keys = {r.id: history_key(r) for r in self._rules}
        new_keys = {r.id: history_key(r) for r in rules}
        self._history = BySite((k, v) for k, v in self._history.items() if old_keys.get(k[0]) == new_keys.get(k[0]))
        keep = set(diff.unchanged)
        self._published = {k: v for k, v in self._published.items() if k[0] in keep}
        # A changed rule's next outcome is sent whatever it is: its threshold, labels or text may be new.
        self._sent = BySite((k, v) for k, v in self._sent.items() if k[0] in keep)
        tracked_before = self._tracked
        self._set_rules(rules)
        # An indicator a staleness rule now watches counts from the first `stale` after the reload
        # (`_tracked_since`), not from the engine's start: nothing was remembered of its arrivals.
        self._newly_tracked |= self._tracked - tracked_before
        return diff

    def retirements(
        self, removed: Sequence[Rule], now: datetime, narrowed: Sequence[tuple[Rule, Rule]] = ()
    ) -> list[RuleEvaluation]:
        """The last evaluations of rules taken out of the rule files: one per site the rule could have alerted on
        (every registry site in its scope, and the sites it named or remembered), so their alerts end. And for a
        changed rule (`narrowed`: before, after) whose scope no longer takes a site: that site's alert ends too,
        since the rule will never judge it again."""
        out: list[RuleEvaluation] = []
        for rule in removed:
            out.extend(retirement(rule, site, now) for site in self._sites_of(rule))
        for before, after in narrowed:
            out.extend(
                retirement(before, site, now) for site in self._sites_of(before) if not after.scope.includes(site)
            )
        return out

    def _sites_of(self, rule: Rule) -> list[str]:
        """Every site the rule could have alerted on."""
        registry_sites: list[str] = []
        if self._registry is not None:
            indicator = CATALOGUE[rule.indicator]
            # A district-stage indicator is about an area (the district), a site-stage one about the feed's sites.
            on = (
                self._registry.areas if indicator.stage == "district" else self._registry.sites_for_feed(indicator.feed)
            )
            registry_sites = [s.id for s in on]
        named = rule.scope.sites if rule.scope.sites != "*" else []
        remembered = [site for (rule_id, site) in self._history if rule_id == rule.id]
        return sorted({s for s in (*registry_sites, *named, *remembered) if rule.scope.includes(s)})

    # --- records ----------------------------------------------------------------------------------------------------
    def on_record(self, record: IndicatorRecord, received_at: datetime) -> list[RuleEvaluation]:
        """Every rule's outcome on `record` (which arrived at processing time `received_at`)."""
        site = record.site
        self._loaded.add(site)
        if record.indicator in self._tracked:
            self._last_seen[(record.indicator, site)] = received_at
        out: list[RuleEvaluation] = []
        for rule in self._by_indicator.get(record.indicator, ()):
            if kind_of(rule).on_clock:
                if self._published.get((rule.id, site)) == "breach":
                    cleared = evaluate_staleness(
                        rule, site, received_at, received_at, site_name=self._names.get(site, "")
                    )
                    if cleared is not None:
                        self._published[(rule.id, site)] = cleared.outcome
                        out.append(cleared)
                continue
            key = (rule.id, site)
            earlier = self._history.get(key, ())
            judgement = judge(rule, record, earlier)
            if history_span(rule) > timedelta(0) and rule.scope.includes(site):
                self._history[key] = remember(rule, earlier, record)
            if judgement is None or not self._is_news(key, judgement.outcome, record.observed_at, judgement.repeats):
                continue
            result = describe(judgement, site_name=self._names.get(site, ""))
            out.append(result.model_copy(update={"historical": True}) if self.historical else result)
        return out

    def _is_news(self, key: tuple[str, str], outcome: Outcome, at: datetime, repeats: bool) -> bool:
        """Whether an outcome must be sent, remembering it when it is the newest: see the module doc."""
        last = self._sent.get(key)
        if last is not None and at < last[1]:
            return True  # late: the alert service tells it from the newer one by event time
        self._sent[key] = (outcome, at)
        return repeats or last is None or last[0] != outcome

    # --- staleness --------------------------------------------------------------------------------------------------
    def _registry_sites(self, rule: Rule) -> tuple[str, ...]:
        if self._registry is None:
            return ()
        feed = CATALOGUE[rule.indicator].feed
        return tuple(s.id for s in self._registry.sites_for_feed(feed) if rule.scope.includes(s.id))

    def watched_sites(self, rule: Rule) -> list[str]:
        """The sites a staleness rule expects data from: its scope among the registry's sites of the indicator's
        feed, plus the sites the rule names and the sites seen (these matter when there is no registry)."""
        named = rule.scope.sites if rule.scope.sites != "*" else []
        seen = [s for (indicator, s) in self._last_seen if indicator == rule.indicator]
        candidates = {*self._watched.get(rule.id, ()), *named, *seen}
        return sorted(s for s in candidates if rule.scope.includes(s))

    def watched(self) -> list[str]:
        """Every site some staleness rule watches."""
        return sorted({site for rule in self._staleness for site in self.watched_sites(rule)})

    def stale(self, now: datetime, owns: Callable[[str], bool] | None = None) -> list[RuleEvaluation]:
        """Staleness outcomes at processing time `now` that are due for publishing, for the sites `owns` accepts
        (every site by default)."""
        return [evaluation for step in self.stale_in_steps(now, owns) for evaluation in step]

    def stale_in_steps(
        self, now: datetime, owns: Callable[[str], bool] | None = None, sites_per_step: int = 1_000
    ) -> Iterator[list[RuleEvaluation]]:
        """`stale`, a list per `sites_per_step` sites judged, so that a caller on an event loop can let other work
        run between them (a registry of 100,000 sites is judged in seconds, not milliseconds)."""
        for indicator in self._newly_tracked:
            self._tracked_since[indicator] = now
        self._newly_tracked = set()
        out: list[RuleEvaluation] = []
        judged = 0
        for rule in self._staleness:
            since = max(self.started, self._tracked_since.get(rule.indicator, self.started))
            # Without `for`, `keep_firing_for` or overrides, whether anything is new is decided without building the
            # evaluation (the common case: most sites, most ticks, nothing to publish).
            plain = rule.staleness is not None and not (rule.for_ or rule.keep_firing_for)
            after = rule.staleness.after if rule.staleness is not None else timedelta(0)
            for site in self.watched_sites(rule):
                judged += 1
                if judged % sites_per_step == 0:
                    yield out
                    out = []
                if owns is not None and not owns(site):
                    continue
                seen_key = (rule.indicator, site)
                last = self._last_seen.get(seen_key, since)
                if last > now:
                    # The clock went back (an accelerated clock restarts at its start): count from now.
                    last = self._last_seen[seen_key] = now
                key = (rule.id, site)
                outcome = "breach" if now - last >= after else "clear"
                if plain and self._published.get(key) == outcome and rule.override_for(site) is None:
                    continue
                result = evaluate_staleness(rule, site, last, now, site_name=self._names.get(site, ""))
                if result is None:
                    continue
                repeat = result.for_s > 0 or result.keep_firing_for_s > 0
                if repeat or self._published.get(key) != result.outcome:
                    self._published[key] = result.outcome
                    out.append(result)
        yield out

    def forget(self, now: datetime) -> None:
        """After a rebalance: no site counts as loaded (`load_site` again before trusting it), published staleness
        outcomes are sent afresh, and a site never seen counts as silent since `now`."""
        self.forget_published()
        self._loaded.clear()
        self.started = now

    def forget_published(self) -> None:
        """Staleness outcomes are sent afresh by the next `stale` pass: after sends that may not have reached the
        broker (a batch tried again) the engine cannot tell which did."""
        self._published.clear()

    # --- one site's state as JSON -----------------------------------------------------------------------------------
    def is_loaded(self, site: str) -> bool:
        return site in self._loaded

    def export_site(self, site: str) -> SiteState:
        history = {
            rule_id: {
                "key": history_key(self._by_id[rule_id]),
                "samples": [[s.at.isoformat(), s.value] for s in samples],
            }
            for (rule_id, _), samples in self._history.of_site(site)
            if samples and rule_id in self._by_id
        }
        last_seen = {indicator: at.isoformat() for (indicator, _), at in self._last_seen.of_site(site)}
        sent = {rule_id: [outcome, at.isoformat()] for (rule_id, _), (outcome, at) in self._sent.of_site(site)}
        return {"v": SITE_STATE_VERSION, "history": history, "last_seen": last_seen, "sent": sent}

    def load_site(self, site: str, data: Mapping[str, Any] | None) -> None:
        """Replace the site's remembered values and last arrivals with `data` (from `export_site`; None for a site
        without any). Values of rules that are gone or whose `history_key` changed are dropped."""
        self._history.drop_site(site)
        self._last_seen.drop_site(site)
        self._sent.drop_site(site)
        self._loaded.add(site)
        if not data or data.get("v") != SITE_STATE_VERSION:
            return
        for rule_id, entry in data.get("history", {}).items():
            rule = self._by_id.get(rule_id)
            if rule is None or entry.get("key") != history_key(rule):
                continue
            samples = tuple(Sample(datetime.fromisoformat(at), float(value)) for at, value in entry["samples"])
            if samples:
                self._history[(rule_id, site)] = samples
        for indicator, at in data.get("last_seen", {}).items():
            if indicator in self._tracked:
                self._last_seen[(indicator, site)] = datetime.fromisoformat(at)
        for rule_id, (outcome, at) in data.get("sent", {}).items():
            if rule_id in self._by_id:
                self._sent[(rule_id, site)] = (outcome, datetime.fromisoformat(at))
