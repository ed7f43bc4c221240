"""Evaluate rules on indicator records. Pure: the caller keeps the per-site history and publishes the result.

`evaluate(rule, record)` is enough for instant rules; windowed and rate-of-change rules also take the site's
recent values (`history`, kept with `remember`). Staleness is judged on the processing clock by
`evaluate_staleness`, called from a timer.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.rule_engine.duration import format_duration
from citywatch.rule_engine.kinds import kind_of
from citywatch.rule_engine.model import OPERATORS, Rule, Threshold
from citywatch.schemas.indicator import INSUFFICIENT_DATA, IndicatorRecord
from citywatch.standards import gb3095_limit
from citywatch.standards.reporting import reported
from citywatch.standards.tables.gb3095 import UNITS as GB3095_UNITS
from citywatch.standards.tables.plan import PLAN_TARGETS
from citywatch.standards.targets import PM25_ANNUAL_TARGET_ID, target_on

Outcome = Literal["breach", "clear", "hold", "retired"]

WATER_CLASSES = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "劣V": 6}

TEMPLATE_FIELDS = frozenset(
    {
        "rule",
        "site",
        "site_id",
        "indicator",
        "kind",
        "value",
        "unit",
        "threshold",
        "threshold_source",
        "status",
        "window",
        "source",
        "severity",
        "department",
        "target_class",
        "class",
        "projection_range",
    }
)
"""What an annotation template may name, e.g. "{value} {unit} at {site}"."""


class ResolvedThreshold(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float
    label: str  # e.g. "GB 3095-2012 Grade II PM2.5 24h" or "rule value"
    unverified: bool = False


class RuleEvaluation(BaseModel):
    """One rule evaluated on one indicator record; the alert service turns these into alert transitions.

    Fields after `annotations` were added with the rule language (issue 6); they have defaults, so older records
    still validate."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    fingerprint: str
    site: str
    indicator: str
    value: float  # the value the condition was applied to: the record's, a window aggregate, or a rate
    unit: str
    outcome: Outcome
    threshold: float
    threshold_source: str
    unverified: bool
    observed_at: AwareDatetime  # event time (processing time for staleness)
    revision: int
    severity: str
    department: str
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    kind: str = "threshold"
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    entity: dict[str, str] = {}
    historical: bool = False  # evaluated on a backfilled history record: an incident of the past, never paged


@dataclass(frozen=True, slots=True)
class Sample:
    """One earlier value of a rule's indicator at one site (the history of windowed and rate rules)."""

    at: datetime
    value: float


def fingerprint(rule_id: str, site: str, entity: Mapping[str, str] | None = None) -> str:
    """Identity of an alert: the rule and the entity it is about (the site, plus any further entity labels)."""
    extra = "".join(f"|{k}={v}" for k, v in sorted((entity or {}).items()) if k != "site")
    return hashlib.sha256(f"{rule_id}|site={site}{extra}".encode()).hexdigest()[:16]


# --- thresholds -------------------------------------------------------------------------------------------------------
def unit_factor(from_unit: str, indicator: Indicator) -> float | None:
    """The factor turning a threshold in `from_unit` into the indicator's unit; None when they cannot compare."""
    if from_unit == indicator.unit:
        return 1.0
    if from_unit == "%" and indicator.unit == "ratio":
        return 0.01
    # A capacity per day compares with a day's tonnage, a capacity per year with the year's tonnage so far.
    if from_unit == "t/day" and indicator.unit == "t" and indicator.window == "day":
        return 1.0
    if from_unit == "t/year" and indicator.unit == "t" and indicator.window in ("ytd", "year"):
        return 1.0
    return None


def reference_unit(threshold: Threshold, indicator: Indicator) -> str | None:
    """The unit a threshold is stated in (None for a status condition)."""
    if threshold.value is not None:
        return threshold.unit or indicator.unit
    if threshold.limit is not None:
        return GB3095_UNITS.get(threshold.limit.pollutant)
    if threshold.target is not None:
        if threshold.target == PM25_ANNUAL_TARGET_ID:
            return GB3095_UNITS["pm25"]
        known = PLAN_TARGETS.get(threshold.target)
        return None if known is None else known.unit
    if threshold.section_target:
        return "class"
    return None


def resolve(
    threshold: Threshold, on: date, indicator: Indicator | None = None, section_target: str | None = None
) -> ResolvedThreshold | None:
    """The threshold's value in the indicator's unit on the local date `on`; None when it does not apply then
    (a plan target not yet in force, a section without a target class)."""
    factor = 1.0
    if indicator is not None:
        unit = reference_unit(threshold, indicator)
        found = None if unit is None else unit_factor(unit, indicator)
        if found is None:
            raise ValueError(f"threshold unit {unit!r} does not compare with {indicator.id} in {indicator.unit!r}")
        factor = found
    if threshold.value is not None:
        return ResolvedThreshold(value=threshold.value * factor + threshold.offset, label="rule value")
    if threshold.limit is not None:
        lim = threshold.limit
        found_limit = gb3095_limit(pollutant=lim.pollutant, period=lim.period, grade=lim.grade, on=on)
        label = f"{found_limit.label} Grade {lim.grade} {lim.pollutant} {lim.period}"
        value = _scaled(found_limit.value, factor) + threshold.offset
        return ResolvedThreshold(value=value, label=label, unverified=found_limit.unverified)
    if threshold.target is not None:
        target = target_on(threshold.target, on)
        if not target.source.applies_on(on):
            return None
        label = f"the plan target for {target.description}, {target.value:g} {target.unit} ({target.quote})"
        return ResolvedThreshold(
            value=_scaled(target.value, factor) + threshold.offset, label=label, unverified=target.unverified
        )
    if threshold.section_target:
        if section_target is None or section_target not in WATER_CLASSES:
            return None
        label = f"section target class {section_target} (GB 3838-2002)"
        return ResolvedThreshold(value=WATER_CLASSES[section_target] + threshold.offset, label=label)
    raise ValueError("a status condition has no numeric threshold")


_RESOLVED: dict[tuple[int, date, str, str | None], tuple[Threshold, ResolvedThreshold | None]] = {}
_RESOLVED_SIZE = 20_000


def resolve_cached(
    threshold: Threshold, on: date, indicator: Indicator, section_target: str | None
) -> ResolvedThreshold | None:
    """`resolve`, remembered per threshold and date: a rule meets many records of one day, and resolving looks up
    versioned tables and units each time. Keyed by the threshold object's identity (checked on a hit: a reloaded
    rule set brings new objects)."""
    key = (id(threshold), on, indicator.id, section_target)
    hit = _RESOLVED.get(key)
    if hit is not None and hit[0] is threshold:
        return hit[1]
    if len(_RESOLVED) >= _RESOLVED_SIZE:
        _RESOLVED.clear()
    found = resolve(threshold, on, indicator, section_target)
    _RESOLVED[key] = (threshold, found)
    return found


def _scaled(value: Decimal, factor: float) -> float:
    # In decimal, so 99 % is exactly the float 0.99 a record's ratio is compared with.
    return float(value * Decimal(str(factor)))


# --- history for windowed and rate rules ------------------------------------------------------------------------------
def history_span(rule: Rule) -> timedelta:
    """How far back a rule looks at earlier values (zero for rules that need none)."""
    if rule.window is not None:
        return rule.window.duration
    if rule.rate is not None:
        return rule.rate.lookback
    return timedelta(0)


def remember(rule: Rule, history: Sequence[Sample], record: IndicatorRecord) -> tuple[Sample, ...]:
    """The site's history after `record`: its value replaces any at the same event time, old values drop out."""
    span = history_span(rule)
    if span <= timedelta(0):
        return ()
    at = record.observed_at
    if record.status != INSUFFICIENT_DATA and (not history or at > history[-1].at):
        # The usual case, a value newer than every one kept (history is sorted): no merge, no sort.
        return (*(s for s in history if s.at > at - span), Sample(at, record.value))
    merged = {s.at: s for s in history}
    if record.status == INSUFFICIENT_DATA:
        # Not a value the rule may judge, so not one a window may average either (it may revise a valid one).
        merged.pop(record.observed_at, None)
    else:
        merged[record.observed_at] = Sample(record.observed_at, record.value)
    if not merged:
        return ()
    newest = max(merged)
    return tuple(merged[t] for t in sorted(merged) if t > newest - span)


def labels_of(rule: Rule, labels: Mapping[str, str], site: str) -> dict[str, str]:
    """The labels an alert of this rule carries: the rule's own, the site, and its place in the severity model
    (`family`, `purpose`: Alertmanager inhibits within a family only, deploy/alertmanager/alertmanager.yml)."""
    return {**labels, "site": site, "family": rule.family_name, "purpose": rule.tracks}


# --- evaluation -------------------------------------------------------------------------------------------------------
class _Template(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def template_fields(template: str) -> list[str]:
    """The names a template refers to; ValueError when it is no valid template."""
    return [name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name]


def _render(annotations: Mapping[str, str], context: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, template in annotations.items():
        try:
            out[key] = template.format_map(_Template(context))
        except (ValueError, IndexError, KeyError):
            out[key] = template  # lint reports a broken template; evaluation never fails on one
    return out


def named(site: str, name: str) -> str:
    """A site as people read it: its registry name, then its id (Songling 松陵 (wj-songling))."""
    return f"{name} ({site})" if name else site


def _annotations(rule: Rule, templates: Mapping[str, str], context: dict[str, str], site_name: str) -> dict[str, str]:
    """The rule's templates rendered, with its title (its description) and the site's registry name."""
    rendered = {"title": " ".join(rule.description.split()), **_render(templates, context)}
    return {**rendered, "site_name": site_name} if site_name else rendered


def _status_outcome(rule: Rule, status: str | None) -> Outcome:
    assert rule.condition is not None and rule.condition.status is not None
    if status in rule.condition.status:
        return "breach"
    if rule.clear is None or rule.clear.status is None:
        return "clear"
    return "clear" if status in rule.clear.status else "hold"


@dataclass(frozen=True, slots=True)
class Judgement:
    """A rule's outcome on one record, before it is described for people (`describe`): what the engine needs to
    decide whether the outcome is news (the rule-evaluations topic carries changes only, `RuleEngine.on_record`)."""

    rule: Rule
    effective: Rule  # the rule with the site's overrides applied
    record: IndicatorRecord
    outcome: Outcome
    value: float
    unit: str
    threshold: ResolvedThreshold
    unverified: bool
    section_target: str | None

    @property
    def repeats(self) -> bool:
        """Whether the alert's lifecycle needs every outcome, changed or not: `for` and `keep_firing_for` are
        timed from the event times of the outcomes themselves (citywatch/rule_engine/lifecycle.py)."""
        return self.effective.for_ > timedelta(0) or self.effective.keep_firing_for > timedelta(0)


def judge(rule: Rule, record: IndicatorRecord, history: Sequence[Sample] = ()) -> Judgement | None:
    """The rule's outcome on this record, or None when the record is outside the rule's scope or period, is no
    valid statistic under its standard (INSUFFICIENT_DATA: a 24 h mean of 3 hours is not a 24 h mean), or there is
    not enough history yet (windowed and rate rules, whose `history` holds the site's earlier values)."""
    if rule.indicator != record.indicator or kind_of(rule).on_clock or not rule.scope.includes(record.site):
        return None
    if record.status == INSUFFICIENT_DATA or rule.warming_up(record.samples):
        return None
    if not rule.in_effect(record.local_date):
        return None
    effective = rule.for_site(record.site)
    if effective is None or effective.condition is None:
        return None
    indicator = CATALOGUE[rule.indicator]
    measured = kind_of(effective).measure(effective, record, history)
    if measured is None:
        return None
    value, unit = measured
    cond = effective.condition
    section_target = record.labels.get("target_class") or rule.section_target(record.site)
    unverified = record.unverified
    outcome: Outcome
    if cond.status is not None:
        outcome = _status_outcome(effective, record.status)
        # A status condition's number is the target the record was projected against (labels.target).
        target = _number(record.labels.get("target"))
        threshold = ResolvedThreshold(
            value=0.0 if target is None else target,
            label=f"status {' or '.join(cond.status)} against the annual target"
            + ("" if target is None else f" {reported(target, indicator.unit)} {indicator.unit}"),
        )
    else:
        fire = resolve_cached(cond, record.local_date, indicator, section_target)
        if fire is None:
            return None
        threshold = fire
        unverified = unverified or fire.unverified
        assert cond.op is not None
        if OPERATORS[cond.op](value, fire.value):
            outcome = "breach"
        elif effective.clear is None:
            outcome = "clear"
        else:
            clear = resolve_cached(effective.clear, record.local_date, indicator, section_target)
            if clear is None or effective.clear.op is None:
                outcome = "clear"
            else:
                unverified = unverified or clear.unverified
                # Between the clear level and the threshold the alert keeps whatever state it has (hysteresis).
                outcome = "clear" if OPERATORS[effective.clear.op](value, clear.value) else "hold"
    return Judgement(rule, effective, record, outcome, value, unit, threshold, unverified, section_target)


def describe(judgement: Judgement, *, site_name: str = "") -> RuleEvaluation:
    """A judgement as the alert service and on-call read it: identity, labels and rendered annotations."""
    rule, effective, record = judgement.rule, judgement.effective, judgement.record
    indicator = CATALOGUE[rule.indicator]
    threshold, value, unit = judgement.threshold, judgement.value, judgement.unit
    context = {
        "rule": rule.id,
        "site": named(record.site, site_name),
        "site_id": record.site,
        "indicator": record.indicator,
        "kind": rule.kind,
        "value": reported(value, indicator.unit),
        "unit": unit,
        "threshold": reported(threshold.value, indicator.unit),
        "threshold_source": threshold.label,
        "status": record.status or "",
        "window": format_duration(effective.window.duration) if effective.window else record.window,
        "source": rule.source,
        "severity": effective.severity,
        "department": rule.department,
        "target_class": judgement.section_target or "",
        "class": record.labels.get("class", ""),
        "projection_range": _projection_range(record, unit),
    }
    return RuleEvaluation(
        rule_id=rule.id,
        fingerprint=fingerprint(rule.id, record.site),
        site=record.site,
        indicator=record.indicator,
        value=value,
        unit=unit,
        outcome=judgement.outcome,
        threshold=threshold.value,
        threshold_source=threshold.label,
        unverified=judgement.unverified,
        observed_at=record.observed_at,
        revision=record.revision,
        severity=effective.severity,
        department=rule.department,
        source=rule.source,
        labels=labels_of(rule, effective.labels, record.site),
        annotations=_annotations(rule, effective.annotations, context, site_name),
        kind=rule.kind,
        for_s=effective.for_.total_seconds(),
        keep_firing_for_s=effective.keep_firing_for.total_seconds(),
        entity={"site": record.site},
    )


def evaluate(
    rule: Rule, record: IndicatorRecord, history: Sequence[Sample] = (), *, site_name: str = ""
) -> RuleEvaluation | None:
    """`judge`, described: the rule's evaluation on this record, or None when it has no outcome (see `judge`)."""
    judgement = judge(rule, record, history)
    return None if judgement is None else describe(judgement, site_name=site_name)


def evaluate_staleness(
    rule: Rule, site: str, last_seen: datetime, now: datetime, *, site_name: str = ""
) -> RuleEvaluation | None:
    """A staleness rule on the processing clock: breach when the site's last record of the indicator arrived
    `staleness.after` or longer before `now`. For a site never seen, pass the time the watch started."""
    if not kind_of(rule).on_clock or rule.staleness is None or not rule.scope.includes(site):
        return None
    if not rule.in_effect(now.date()):
        return None
    effective = rule.for_site(site)
    if effective is None:
        return None
    silent = max(0.0, (now - last_seen).total_seconds())
    after = rule.staleness.after.total_seconds()
    context = {
        "rule": rule.id,
        "site": named(site, site_name),
        "site_id": site,
        "indicator": rule.indicator,
        "kind": rule.kind,
        "value": format_duration(timedelta(seconds=silent)),
        "unit": "s",
        "threshold": format_duration(rule.staleness.after),
        "threshold_source": "rule value",
        "source": rule.source,
        "severity": effective.severity,
        "department": rule.department,
    }
    return RuleEvaluation(
        rule_id=rule.id,
        fingerprint=fingerprint(rule.id, site),
        site=site,
        indicator=rule.indicator,
        value=silent,
        unit="s",
        outcome="breach" if silent >= after else "clear",
        threshold=after,
        threshold_source="rule value",
        unverified=False,
        observed_at=now,
        revision=0,
        severity=effective.severity,
        department=rule.department,
        source=rule.source,
        labels=labels_of(rule, effective.labels, site),
        annotations=_annotations(rule, effective.annotations, context, site_name),
        kind=rule.kind,
        for_s=effective.for_.total_seconds(),
        keep_firing_for_s=effective.keep_firing_for.total_seconds(),
        entity={"site": site},
    )


def _projection_range(record: IndicatorRecord, unit: str) -> str:
    low, high = record.labels.get("projection_low"), record.labels.get("projection_high")
    return f" (95 % range {low}–{high} {unit})" if low and high else ""


def _number(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def retirement(rule: Rule, site: str, now: datetime) -> RuleEvaluation:
    """The last word on a rule removed from the rule files: its alert at `site` resolves (if firing) or goes back to
    inactive (if pending). The alert service ignores it for an alert it never saw."""
    return RuleEvaluation(
        rule_id=rule.id,
        fingerprint=fingerprint(rule.id, site),
        site=site,
        indicator=rule.indicator,
        value=0.0,
        unit=CATALOGUE[rule.indicator].unit,
        outcome="retired",
        threshold=0.0,
        threshold_source="rule removed",
        unverified=False,
        observed_at=now,
        revision=0,
        severity=rule.severity,
        department=rule.department,
        source=rule.source,
        labels=labels_of(rule, rule.labels, site),
        annotations={"summary": f"rule {rule.id} was removed from the rule files; its alert at {site} ends"},
        kind=rule.kind,
        entity={"site": site},
    )
