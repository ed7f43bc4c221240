"""What the schema cannot see: checks of a valid rule against the catalogue, the standards and the registry. Pure.

Each problem is (location inside the rule, message); the loader turns locations into file:line:col.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.rule_engine.evaluation import TEMPLATE_FIELDS, reference_unit, resolve, template_fields, unit_factor
from citywatch.rule_engine.kinds import UPWARD, kind_of
from citywatch.rule_engine.model import PERIOD_TO_DATE_WINDOWS, Rule, Threshold, default_plan_tracking
from citywatch.site_registry.model import Registry
from citywatch.standards.tables.gb3095 import GB3095_TABLES
from citywatch.standards.tables.plan import PLAN_TARGETS, WUJIANG_14FYP_FROM
from citywatch.standards.targets import PM25_ANNUAL_TARGET_ID

Loc = tuple[str | int, ...]
RuleProblem = tuple[Loc, str]

_PROBE_CLASS = "III"  # a stand-in section target when comparing a water rule's condition with its clear


def probe_dates(rule: Rule) -> list[date]:
    """Dates on which every versioned threshold of the rule takes each of its values (one per table version)."""
    starts = {WUJIANG_14FYP_FROM} | {
        t.source.effective_from for t in GB3095_TABLES if t.source.effective_from > date.min
    }
    if rule.effective_from:
        starts.add(rule.effective_from)
    return sorted(d for d in starts if rule.in_effect(d)) or ([rule.effective_from] if rule.effective_from else [])


def _reference_key(threshold: Threshold) -> str:
    if threshold.section_target:
        return "section_target"
    return next((k for k in ("value", "limit", "target", "status") if getattr(threshold, k) is not None), "op")


def _threshold_problems(rule: Rule, indicator: Indicator, where: Loc, threshold: Threshold) -> Iterator[RuleProblem]:
    key = _reference_key(threshold)
    if (
        threshold.target is not None
        and threshold.target != PM25_ANNUAL_TARGET_ID
        and threshold.target not in PLAN_TARGETS
    ):
        known = ", ".join([PM25_ANNUAL_TARGET_ID, *PLAN_TARGETS])
        yield (*where, "target"), f"unknown plan target {threshold.target!r} (known: {known})"
        return
    if threshold.limit is not None:
        lim = threshold.limit
        try:
            resolve(threshold, date(2025, 1, 1))
        except KeyError as exc:
            yield (*where, "limit"), f"no such GB 3095 limit: {exc.args[0]}"
            return
        if indicator.limit is not None and indicator.limit[0] != lim.pollutant:
            yield (
                (*where, "limit"),
                (f"the limit is for {lim.pollutant} but {indicator.id} measures {indicator.limit[0]}"),
            )
    unit = reference_unit(threshold, indicator)
    if unit is not None and unit_factor(unit, indicator) is None:
        what = {"value": "the value", "limit": "the GB 3095 limit", "target": f"target {threshold.target}"}.get(
            key, "the threshold"
        )
        yield (
            (*where, "unit" if threshold.unit is not None else key),
            (f"unit mismatch: {what} is in {unit} but {indicator.id} is in {indicator.unit}"),
        )
    yield from kind_of(rule).threshold_problems(threshold, (*where, key))


def _clear_problems(
    rule: Rule, indicator: Indicator, fire: Threshold, clear: Threshold, where: Loc
) -> Iterator[RuleProblem]:
    if fire.status is not None and clear.status is not None:
        both = sorted(set(fire.status) & set(clear.status))
        if both:
            yield (
                (*where, "status"),
                f"clear condition on the wrong side: status {', '.join(both)} both fires and clears",
            )
        return
    if fire.op is None or clear.op is None:
        return
    if (fire.op in UPWARD) == (clear.op in UPWARD):
        need = "< or <=" if fire.op in UPWARD else "> or >="
        yield (
            (*where, "op"),
            f"clear condition on the wrong side: the condition fires on `{fire.op}`, so `clear` needs {need}",
        )
        return
    for day in probe_dates(rule):
        try:
            f = resolve(fire, day, indicator, _PROBE_CLASS)
            c = resolve(clear, day, indicator, _PROBE_CLASS)
        except (KeyError, ValueError):
            return  # reported by the threshold checks
        if f is None or c is None:
            continue
        if fire.op in UPWARD:
            overlap = c.value > f.value or (c.value == f.value and fire.op == ">=" and clear.op == "<=")
            side = "above"
        else:
            overlap = c.value < f.value or (c.value == f.value and fire.op == "<=" and clear.op == ">=")
            side = "below"
        if overlap:
            yield (
                (*where, _reference_key(clear)),
                (
                    f"clear condition on the wrong side: the clear level {c.value:g} is {side} the threshold {f.value:g} "
                    f"(on {day.isoformat()}), so one value would both fire and clear"
                ),
            )
            return


def _site_problems(rule: Rule, indicator: Indicator, registry: Registry) -> Iterator[RuleProblem]:
    if indicator.stage != "site":
        return  # district indicators are keyed by the district id, which is configuration, not a registry site
    listed: list[tuple[Loc, str]] = []
    if rule.scope.sites != "*":
        listed += [(("scope", "sites", i), s) for i, s in enumerate(rule.scope.sites)]
    listed += [(("scope", "exclude", i), s) for i, s in enumerate(rule.scope.exclude)]
    for n, override in enumerate(rule.overrides):
        listed += [(("overrides", n, "sites", i), s) for i, s in enumerate(override.sites)]
    for loc, site_id in listed:
        if not registry.has_site(site_id):
            yield loc, f"unknown site {site_id!r}: not in the registry"
        elif registry.site(site_id).feed != indicator.feed:
            yield loc, f"site {site_id!r} is not a site of the {indicator.feed} feed ({indicator.id})"
    if rule.scope.match is not None and rule.scope.match.given():
        feed_sites = registry.sites_for_feed(indicator.feed)
        if not any(rule.scope.match.matches(s) for s in feed_sites):
            yield ("scope", "match"), f"the selector matches no {indicator.feed} site in the registry"
    if rule.scope.sites != "*" and rule.overrides:
        for n, override in enumerate(rule.overrides):
            for i, site_id in enumerate(override.sites):
                if site_id not in rule.scope.sites:
                    yield ("overrides", n, "sites", i), f"site {site_id!r} is not in the rule's scope"


def _purpose_problems(rule: Rule, indicator: Indicator) -> Iterator[RuleProblem]:
    """The severity model of docs/rules.md ("Severity and inhibition")."""
    if rule.purpose == "exceedance" and default_plan_tracking(rule):
        yield (
            ("purpose",),
            (
                f"a {rule.kind} rule on {indicator.id} (window {indicator.window}) follows a figure towards the plan: "
                "its purpose is plan-tracking"
            ),
        )
    if rule.tracks != "plan-tracking":
        if rule.warm_up is not None:
            yield ("warm_up",), "`warm_up` is for plan-tracking rules; an exceedance is judged on every valid value"
        return
    severities: list[tuple[Loc, str]] = [(("severity",), rule.severity)]
    severities += [(("overrides", n, "severity"), o.severity) for n, o in enumerate(rule.overrides) if o.severity]
    for loc, severity in severities:
        if severity == "critical":
            yield (
                loc,
                (
                    "a plan-tracking rule is warning or info: critical pages at once and every hour, while a plan "
                    "figure moves once a day (docs/rules.md, 'Severity and inhibition')"
                ),
            )
    if indicator.window in PERIOD_TO_DATE_WINDOWS and rule.warm_up is None:
        yield (
            ("indicator",),
            (
                f"{indicator.id} is a figure of the period so far: say from how many samples it means something "
                "(`warm_up: {min_samples: N, why: ...}`)"
            ),
        )


def family_problems(rules: Iterable[Rule]) -> dict[str, list[str]]:
    """Problems between the rules of one family, by rule id: a family grades one condition of one indicator, so
    its rules share indicator and purpose, and its attainment rules fire on disjoint statuses (at risk and off
    track never fire together)."""
    families: dict[str, list[Rule]] = {}
    for rule in rules:
        families.setdefault(rule.family_name, []).append(rule)
    out: dict[str, list[str]] = {}
    for name, members in families.items():
        first = members[0]
        fired: dict[str, str] = {}
        for rule in members:
            found = out.setdefault(rule.id, [])
            if rule is not first and (rule.indicator, rule.tracks) != (first.indicator, first.tracks):
                found.append(
                    f"family {name!r}: {rule.id} judges {rule.indicator} ({rule.tracks}) but {first.id} judges "
                    f"{first.indicator} ({first.tracks}); a family is one indicator and one purpose"
                )
            statuses = rule.condition.status if rule.condition is not None and rule.condition.status else []
            for status in statuses:
                if status in fired:
                    found.append(
                        f"family {name!r}: {rule.id} and {fired[status]} both fire on status {status}; "
                        "the rules of a family fire on disjoint statuses"
                    )
                fired.setdefault(status, rule.id)
    return {k: v for k, v in out.items() if v}


def rule_problems(rule: Rule, registry: Registry | None = None) -> list[RuleProblem]:
    """Every problem of one schema-valid rule (the registry checks run when a registry is given)."""
    indicator = CATALOGUE[rule.indicator]
    out: list[RuleProblem] = []
    for name, threshold in (("condition", rule.condition), ("clear", rule.clear)):
        if threshold is not None:
            out += _threshold_problems(rule, indicator, (name,), threshold)
    if rule.condition is not None and rule.clear is not None:
        out += _clear_problems(rule, indicator, rule.condition, rule.clear, ("clear",))
    for n, override in enumerate(rule.overrides):
        for name, threshold in (("condition", override.condition), ("clear", override.clear)):
            if threshold is not None:
                out += _threshold_problems(rule, indicator, ("overrides", n, name), threshold)
        fire, clear = override.condition or rule.condition, override.clear or rule.clear
        if (override.condition or override.clear) and fire is not None and clear is not None:
            where = ("overrides", n, "clear" if override.clear else "condition")
            out += _clear_problems(rule, indicator, fire, clear, where)
    out += kind_of(rule).problems(rule, indicator)
    out += _purpose_problems(rule, indicator)
    for key, template in rule.annotations.items():
        try:
            names = template_fields(template)
        except ValueError as exc:
            out.append((("annotations", key), f"bad template: {exc}"))
            continue
        unknown = sorted(set(names) - TEMPLATE_FIELDS)
        if unknown:
            known = ", ".join(sorted(TEMPLATE_FIELDS))
            out.append((("annotations", key), f"unknown template field {{{unknown[0]}}} (known: {known})"))
    if registry is not None:
        out += _site_problems(rule, indicator, registry)
        if rule.department not in {d.id for d in registry.departments}:
            known = ", ".join(d.id for d in registry.departments)
            out.append((("department",), f"unknown department {rule.department!r} (known: {known})"))
    return out
