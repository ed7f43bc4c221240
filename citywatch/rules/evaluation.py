"""Evaluate rules on indicator records. Pure: the caller publishes the result."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from citywatch.rules.model import OPERATORS, Rule, Threshold
from citywatch.schemas.indicator import IndicatorRecord
from citywatch.standards import gb3095_limit

Outcome = Literal["breach", "clear", "hold"]


class ResolvedThreshold(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float
    label: str  # e.g. "GB 3095-2012 Grade II PM2.5 24h" or "rule value"
    unverified: bool = False


class RuleEvaluation(BaseModel):
    """One rule evaluated on one indicator record; the alert service turns these into alert transitions."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    fingerprint: str
    site: str
    indicator: str
    value: float
    unit: str
    outcome: Outcome
    threshold: float
    threshold_source: str
    unverified: bool
    observed_at: AwareDatetime
    revision: int
    severity: str
    department: str
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]


def fingerprint(rule_id: str, site: str) -> str:
    """Identity of an alert: the rule and the entity it is about."""
    return hashlib.sha256(f"{rule_id}|site={site}".encode()).hexdigest()[:16]


def resolve(threshold: Threshold, on: date) -> ResolvedThreshold:
    if threshold.value is not None:
        return ResolvedThreshold(value=threshold.value + threshold.offset, label="rule value")
    assert threshold.limit is not None  # the model guarantees exactly one
    lim = threshold.limit
    found = gb3095_limit(pollutant=lim.pollutant, period=lim.period, grade=lim.grade, on=on)
    label = f"{found.label} Grade {lim.grade} {lim.pollutant} {lim.period}"
    return ResolvedThreshold(value=float(found.value) + threshold.offset, label=label, unverified=found.unverified)


def evaluate(rule: Rule, record: IndicatorRecord) -> RuleEvaluation | None:
    """The rule's outcome on this record, or None when the record is outside the rule's scope."""
    if rule.indicator != record.indicator or not rule.scope.includes(record.site):
        return None
    if not rule.in_effect(record.local_date):
        return None
    fire = resolve(rule.condition, record.local_date)
    unverified = fire.unverified
    if OPERATORS[rule.condition.op](record.value, fire.value):
        outcome: Outcome = "breach"
    elif rule.clear is None:
        outcome = "clear"
    else:
        clear = resolve(rule.clear, record.local_date)
        unverified = unverified or clear.unverified
        # Between the clear level and the threshold the alert keeps whatever state it has (hysteresis).
        outcome = "clear" if OPERATORS[rule.clear.op](record.value, clear.value) else "hold"
    context = {
        "site": record.site,
        "value": f"{record.value:.1f}",
        "unit": record.unit,
        "threshold": f"{fire.value:g}",
        "threshold_source": fire.label,
        "rule": rule.id,
    }
    return RuleEvaluation(
        rule_id=rule.id,
        fingerprint=fingerprint(rule.id, record.site),
        site=record.site,
        indicator=record.indicator,
        value=record.value,
        unit=record.unit,
        outcome=outcome,
        threshold=fire.value,
        threshold_source=fire.label,
        unverified=unverified,
        observed_at=record.observed_at,
        revision=record.revision,
        severity=rule.severity,
        department=rule.department,
        source=rule.source,
        labels={**rule.labels, "site": record.site},
        annotations={k: v.format_map(context) for k, v in rule.annotations.items()},
    )
