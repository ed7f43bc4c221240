"""Rule kinds: one class per kind, found by its name once (`kind_of(rule)`). Pure.

A kind says which block of a rule it reads (`window`, `rate`, `staleness`), what its condition compares (a value, an
attainment status, a section's target class, or nothing: a silent site), whether it follows a figure towards the
plan, what a rule of it must satisfy beyond the schema (`fits`: raised while the rule file is parsed; `problems`:
listed by `citywatch rules check`), and the value its condition applies to (`measure`). The rule model, the checks,
the evaluation and the engine ask the kind instead of comparing its name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, ClassVar, Literal

from citywatch.indicators.catalogue import CATALOGUE, Indicator
from citywatch.rule_engine.duration import format_duration

if TYPE_CHECKING:
    from citywatch.rule_engine.evaluation import Sample
    from citywatch.rule_engine.model import Rule, Threshold
    from citywatch.schemas.indicator import IndicatorRecord

UPWARD = (">", ">=")
"""Operators of a condition that breaches when the value rises."""

Block = Literal["window", "rate", "staleness"]
Compares = Literal["value", "status", "section_target", "nothing"]
Problem = tuple[tuple[str | int, ...], str]  # (where in the rule, what is wrong)


class RuleKind:
    name: ClassVar[str]
    block: ClassVar[Block | None] = None
    """The rule's block this kind reads, and needs; the other blocks are refused."""
    compares: ClassVar[Compares] = "value"
    """What the condition compares: the measured value (with `op` and a threshold), the record's attainment status,
    the site's class against its section target, or nothing (staleness: no condition)."""
    on_clock: ClassVar[bool] = False
    """Judged on the processing clock (how long a site has been silent), not on the records."""
    plan_tracking: ClassVar[bool] = False
    """Follows a period's figure towards the plan's target (docs/rules.md, "Severity and inhibition")."""

    def fits(self, rule: Rule) -> None:
        """Raise ValueError when the rule's blocks and conditions are not the ones this kind reads."""
        blocks = {"window": rule.window, "rate": rule.rate, "staleness": rule.staleness}
        for name, block in blocks.items():
            if block is not None and name != self.block:
                raise ValueError(f"`{name}` is not used by a rule of kind {self.name}")
        if self.block is not None and blocks[self.block] is None:
            raise ValueError(f"a rule of kind {self.name} needs `{self.block}`")
        if self.compares == "nothing":
            if rule.condition is not None or rule.clear is not None:
                raise ValueError(f"a {self.name} rule takes no `condition` or `clear` (it clears when data arrives)")
            return
        if rule.condition is None:
            raise ValueError(f"missing threshold: a rule of kind {self.name} needs a `condition`")
        for name, cond in (("condition", rule.condition), ("clear", rule.clear)):
            if cond is None:
                continue
            if (cond.status is not None) != (self.compares == "status"):
                raise ValueError(f"`{name}`: a `status` condition is for attainment rules, and they need one")
            if cond.section_target != (self.compares == "section_target"):
                raise ValueError(f"`{name}`: `section_target` is for water_class rules, and they need it")

    def problems(self, rule: Rule, indicator: Indicator) -> Iterator[Problem]:
        """What `citywatch rules check` reports of a rule of this kind on its indicator, beyond the schema."""
        return iter(())

    def threshold_problems(self, threshold: Threshold, where: tuple[str | int, ...]) -> Iterator[Problem]:
        """What is wrong with one threshold (a condition, a clear, an override's) for this kind."""
        return iter(())

    def measure(self, rule: Rule, record: IndicatorRecord, history: Sequence[Sample]) -> tuple[float, str] | None:
        """The value the condition applies to, and its unit; None when the history is too short."""
        return record.value, CATALOGUE[rule.indicator].unit


class ThresholdKind(RuleKind):
    name = "threshold"


class WindowKind(RuleKind):
    name = "window"
    block = "window"

    def measure(self, rule: Rule, record: IndicatorRecord, history: Sequence[Sample]) -> tuple[float, str] | None:
        assert rule.window is not None  # `fits`
        at = record.observed_at
        start = at - rule.window.duration
        # The record's own time once: an earlier sample at that time is the value this record replaces.
        inside = sorted(
            [*((s.at, s.value) for s in history if start < s.at < at), (at, record.value)], key=itemgetter(0)
        )
        if len(inside) < rule.window.min_samples:
            return None
        return aggregate([value for _, value in inside], rule.window.aggregation), CATALOGUE[rule.indicator].unit


class RateOfChangeKind(RuleKind):
    name = "rate_of_change"
    block = "rate"

    def threshold_problems(self, threshold: Threshold, where: tuple[str | int, ...]) -> Iterator[Problem]:
        if threshold.value is None:
            yield where, "a rate of change compares with a literal `value` (in the indicator's unit per `per`)"

    def measure(self, rule: Rule, record: IndicatorRecord, history: Sequence[Sample]) -> tuple[float, str] | None:
        assert rule.rate is not None  # `fits`
        at = record.observed_at
        back = [s for s in history if at - rule.rate.lookback <= s.at < at]
        if not back:
            return None
        first = min(back, key=lambda s: s.at)
        elapsed = (at - first.at).total_seconds()
        rate = (record.value - first.value) / elapsed * rule.rate.per.total_seconds()
        return rate, f"{CATALOGUE[rule.indicator].unit}/{format_duration(rule.rate.per)}"


class StalenessKind(RuleKind):
    name = "staleness"
    block = "staleness"
    compares = "nothing"
    on_clock = True

    def problems(self, rule: Rule, indicator: Indicator) -> Iterator[Problem]:
        if rule.purpose == "plan-tracking":
            yield ("purpose",), "a silent site is an exceedance, not plan tracking"


class WaterClassKind(RuleKind):
    name = "water_class"
    compares = "section_target"

    def problems(self, rule: Rule, indicator: Indicator) -> Iterator[Problem]:
        if indicator.unit != "class":
            yield ("indicator",), f"a water_class rule needs a class indicator; {indicator.id} is in {indicator.unit}"


class ShareBelowTargetKind(RuleKind):
    name = "share_below_target"
    plan_tracking = True

    def problems(self, rule: Rule, indicator: Indicator) -> Iterator[Problem]:
        if indicator.unit != "ratio":
            yield ("indicator",), f"a share rule needs a ratio indicator; {indicator.id} is in {indicator.unit}"
        if rule.condition is not None and rule.condition.op in UPWARD:
            yield ("condition", "op"), "a share-below-target rule fires on `<` or `<=`"


class AttainmentKind(RuleKind):
    name = "attainment"
    compares = "status"
    plan_tracking = True

    def problems(self, rule: Rule, indicator: Indicator) -> Iterator[Problem]:
        if not indicator.id.endswith(".attainment"):
            yield ("indicator",), f"{indicator.id} carries no attainment status (on-track / at-risk / off-track)"


KINDS: dict[str, RuleKind] = {
    kind.name: kind
    for kind in (
        ThresholdKind(),
        WindowKind(),
        WaterClassKind(),
        ShareBelowTargetKind(),
        AttainmentKind(),
        StalenessKind(),
        RateOfChangeKind(),
    )
}


def kind_of(rule: Rule) -> RuleKind:
    return KINDS[rule.kind]


def aggregate(values: list[float], how: str) -> float:
    if how == "mean":
        return sum(values) / len(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    if how == "sum":
        return sum(values)
    if how == "count":
        return float(len(values))
    return values[-1]
