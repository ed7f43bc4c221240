"""The rule language (YAML in `rules/`, documented in docs/rules.md, JSON Schema in rules/rule.schema.json).

A rule names an indicator of the catalogue, the sites it watches, a condition and where that condition comes from.
Pure: binding label selectors to sites takes an already-loaded registry.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from citywatch.indicators.catalogue import CATALOGUE
from citywatch.rule_engine.duration import Duration
from citywatch.rule_engine.kinds import UPWARD, kind_of

if TYPE_CHECKING:
    from citywatch.site_registry.model import AnySite

Op = Literal[">", ">=", "<", "<="]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

Kind = Literal[
    "threshold",
    "window",
    "water_class",
    "share_below_target",
    "attainment",
    "staleness",
    "rate_of_change",
]
Severity = Literal["info", "warning", "critical"]
Purpose = Literal["exceedance", "plan-tracking"]
"""What a rule watches for (docs/rules.md, "Severity and inhibition"): an *exceedance* is a limit broken now (an
instant or windowed limit, a class worse than target, a silent site); *plan tracking* follows a period's figure
towards the plan's target (year to date, attainment, shares)."""
PERIOD_TO_DATE_WINDOWS = frozenset({"ytd", "year"})  # "year": a projection of the year from its days so far
AttainmentStatus = Literal["on-track", "at-risk", "off-track"]
Aggregation = Literal["mean", "max", "min", "sum", "count", "last"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StandardLimit(_Strict):
    """A threshold taken from a standard's versioned table, resolved by the observation's local date."""

    standard: Literal["GB 3095"]
    pollutant: str
    period: str
    grade: Literal["I", "II"] = "II"


class Threshold(_Strict):
    """A condition: `op` and exactly one threshold (`value`, `limit`, `target`, `section_target`), or `status`."""

    op: Op | None = Field(None, description="Comparison of the indicator's value with the threshold")
    value: float | None = Field(None, description="A literal threshold, in `unit` (the indicator's unit by default)")
    unit: str | None = Field(None, description="Unit of `value`; must be the indicator's (or convertible to it)")
    limit: StandardLimit | None = Field(None, description="A GB 3095 limit, picked by the observation's local date")
    target: str | None = Field(
        None,
        description="A plan target id (citywatch.standards.plan_target, e.g. clean_energy_bus_share) or "
        "pm25_annual_mean (the GB 3095 annual limit by date); % targets apply to ratio indicators as 0–1",
    )
    section_target: bool = Field(False, description="The water section's target class (水质目标, registry)")
    status: list[AttainmentStatus] | None = Field(
        None, description="For attainment rules: the record statuses that satisfy this condition"
    )
    offset: float = Field(0.0, description="Added to the resolved value, e.g. a clear level below a limit")

    @model_validator(mode="after")
    def _one_threshold(self) -> Threshold:
        given = [
            self.value is not None,
            self.limit is not None,
            self.target is not None,
            self.section_target,
            self.status is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                "missing threshold: give one of `value`, `limit`, `target`, `section_target` or `status`"
                if not any(given)
                else "give exactly one of `value` or `limit` or `target` or `section_target` or `status`"
            )
        if self.status is not None and self.op is not None:
            raise ValueError("a `status` condition takes no `op`")
        if self.status is None and self.op is None:
            raise ValueError("missing `op` (one of >, >=, <, <=)")
        if self.unit is not None and self.value is None:
            raise ValueError("`unit` belongs to a literal `value`; a referenced threshold brings its own unit")
        return self

    @property
    def upward(self) -> bool:
        return self.op in UPWARD


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


OneOrMany = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
"""A label value, or a list of values any of which matches."""


class Selector(_Strict):
    """Registry label selectors: a site is in scope when every given label matches one of its values."""

    department: OneOrMany | None = None
    feed: OneOrMany | None = None
    kind: OneOrMany | None = Field(None, description="Water section kind: river or lake")
    target_class: OneOrMany | None = Field(None, description="Water section target class: I … V")
    level: OneOrMany | None = Field(None, description="Water section level: national or provincial")
    river: OneOrMany | None = None
    basin: OneOrMany | None = None
    route_type: OneOrMany | None = Field(None, description="Bus route type: urban, town, town_village")
    process: OneOrMany | None = Field(None, description="Waste plant process: incineration, biological, recycling")

    def given(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def matches(self, site: AnySite) -> bool:
        for key, allowed in self.given().items():
            actual = getattr(site, key, None)
            if actual is None or str(actual) not in allowed:
                return False
        return True


class Scope(_Strict):
    sites: list[str] | Literal["*"] = Field("*", description='Site ids, or "*" for every site of the indicator')
    match: Selector | None = Field(None, description="Registry label selectors (all must match)")
    exclude: list[str] = Field(default_factory=list, description="Site ids never in scope")

    _bound: frozenset[str] | None = PrivateAttr(None)

    @property
    def needs_registry(self) -> bool:
        return self.match is not None and bool(self.match.given())

    def bind(self, sites: Iterable[AnySite]) -> None:
        """Resolve the label selectors against the registry's sites (call once, at load)."""
        # Only a selector needs the matching ids: "*" and listed sites are checked without the registry, and a set of
        # every site per rule was most of a worker's memory at 100,000 sites.
        selector = self.match
        self._bound = (
            frozenset(s.id for s in sites if selector.matches(s)) if self.needs_registry and selector else None
        )

    def includes(self, site: str) -> bool:
        if site in self.exclude:
            return False
        if self.sites != "*" and site not in self.sites:
            return False
        if self.needs_registry:
            if self._bound is None:
                raise RuntimeError("a scope with label selectors must be bound to the registry (load_rules does it)")
            return site in self._bound
        return True


class Window(_Strict):
    """Windowed threshold: the condition applies to an aggregate of the indicator's values in (t − duration, t]."""

    duration: Duration
    aggregation: Aggregation
    min_samples: int = Field(1, ge=1, description="Fewer values in the window give no evaluation")


class Rate(_Strict):
    """Rate of change: (value now − oldest value within `lookback`) / elapsed, expressed per `per`."""

    lookback: Duration
    per: Duration = timedelta(hours=1)


class Staleness(_Strict):
    """No record of the indicator from a site for `after`, on the processing clock."""

    after: Duration


class WarmUp(_Strict):
    """A plan-tracking rule judges a period-to-date figure only once it rests on enough data."""

    min_samples: int = Field(
        ge=1, description="The record's `samples` (valid days, for a year to date) the rule waits for before judging"
    )
    why: str = Field(min_length=1, description="Why this minimum: what a figure of fewer samples would mislead about")


class Reference(_Strict):
    """Where in the reference documents the rule's source is recorded."""

    document: Literal["plan-indicators.md", "standards.md"]
    section: str = Field(min_length=1, description="Section heading, e.g. 'Feed 3 — bus ridership' or '§2'")


class Override(_Strict):
    """Per-site changes to a rule: anything given here replaces the rule's value for these sites."""

    sites: list[str] = Field(min_length=1)
    enabled: bool = True
    condition: Threshold | None = None
    clear: Threshold | None = None
    severity: Severity | None = None
    for_: Duration | None = Field(None, alias="for")
    keep_firing_for: Duration | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="Added to the rule's labels")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    kind: Kind = "threshold"
    indicator: str = Field(description="An indicator id of the catalogue (citywatch indicators list)")
    scope: Scope = Scope()
    condition: Threshold | None = Field(None, description="When the rule breaches (every kind but staleness)")
    clear: Threshold | None = Field(None, description="Hysteresis: the alert resolves only when this holds")
    window: Window | None = Field(None, description="Kind window: the aggregate the condition applies to")
    rate: Rate | None = Field(None, description="Kind rate_of_change: how the rate is taken")
    staleness: Staleness | None = Field(None, description="Kind staleness: how long a silent site may stay silent")
    for_: Duration = Field(timedelta(0), alias="for", description="Breach this long (event time) before firing")
    keep_firing_for: Duration = Field(timedelta(0), description="Keep firing this long after the condition ends")
    severity: Severity
    purpose: Purpose | None = Field(
        None,
        description="exceedance or plan-tracking; by default plan-tracking for attainment and share rules and for "
        "period-to-date indicators, exceedance otherwise",
    )
    family: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Rules of one indicator and purpose that grade one condition (e.g. at risk, off track): in "
        "Alertmanager a critical inhibits a warning of its own family only. Default: the rule's id",
    )
    warm_up: WarmUp | None = Field(
        None, description="Plan-tracking rules: judge only once the period's record rests on this many samples"
    )
    department: str = Field(description="Owning department (registry id): who is paged")
    source: str = Field(min_length=1, description="Plan clause or standard (with version) that makes this a breach")
    references: list[Reference] = Field(default_factory=list, description="Where the source is recorded")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Templates: {site} {value} {unit} {threshold} {threshold_source} … "
    )
    effective_from: date | None = None
    effective_until: date | None = None
    overrides: list[Override] = Field(default_factory=list)

    @field_validator("indicator")
    @classmethod
    def _known_indicator(cls, value: str) -> str:
        if value not in CATALOGUE:
            close = difflib.get_close_matches(value, list(CATALOGUE), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (see `citywatch indicators list`)"
            raise ValueError(f"unknown indicator {value!r}: not in the indicator catalogue{hint}")
        return value

    @model_validator(mode="after")
    def _kind_fits(self) -> Rule:
        kind_of(self).fits(self)
        if self.effective_from and self.effective_until and self.effective_until < self.effective_from:
            raise ValueError("effective_until is before effective_from")
        return self

    _section_targets: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def tracks(self) -> Purpose:
        """The rule's purpose, given or by default (see `purpose`)."""
        if self.purpose is not None:
            return self.purpose
        return "plan-tracking" if default_plan_tracking(self) else "exceedance"

    @property
    def family_name(self) -> str:
        return self.family or self.id

    def warming_up(self, samples: int) -> bool:
        """Whether a record of `samples` is too early in its period for this rule to judge."""
        return self.warm_up is not None and samples < self.warm_up.min_samples

    @property
    def needs_registry(self) -> bool:
        return self.scope.needs_registry

    def bind(self, sites: Iterable[AnySite]) -> None:
        """Resolve label selectors and remember each water section's target class (call once, at load)."""
        every = list(sites)
        self.scope.bind(every)
        self._section_targets = {s.id: str(t) for s in every if (t := getattr(s, "target_class", None)) is not None}

    def section_target(self, site: str) -> str | None:
        # Read from pydantic's private store directly: `self._section_targets` goes through BaseModel.__getattr__
        # (~7 µs, a third of judging a record, and every record is judged by every rule of its indicator).
        targets: dict[str, str] = self.__pydantic_private__["_section_targets"]  # type: ignore[index]
        return targets.get(site)

    def in_effect(self, day: date) -> bool:
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_until and day > self.effective_until)

    def override_for(self, site: str) -> Override | None:
        """The last override naming this site (later overrides win)."""
        found = None
        for override in self.overrides:
            if site in override.sites:
                found = override
        return found

    def for_site(self, site: str) -> Rule | None:
        """The rule as it applies to one site (overrides applied); None when an override disables it there."""
        override = self.override_for(site)
        if override is None:
            return self
        if not override.enabled:
            return None
        update: dict[str, object] = {"labels": {**self.labels, **override.labels}}
        for name in ("condition", "clear", "severity", "for_", "keep_firing_for"):
            value = getattr(override, name)
            if value is not None:
                update[name] = value
        return self.model_copy(update=update)


def default_plan_tracking(rule: Rule) -> bool:
    """Whether a rule's kind or indicator makes it plan tracking."""
    return kind_of(rule).plan_tracking or CATALOGUE[rule.indicator].window in PERIOD_TO_DATE_WINDOWS


class RuleFile(_Strict):
    rules: list[Rule]
