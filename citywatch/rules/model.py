"""The rule language (YAML in `rules/`). A rule names an indicator, a condition and where it comes from."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citywatch.indicators.catalogue import CATALOGUE

Op = Literal[">", ">=", "<", "<="]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


class StandardLimit(BaseModel):
    """A threshold taken from a standard's versioned table, resolved by the observation's local date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: Literal["GB 3095"]
    pollutant: str
    period: str
    grade: Literal["I", "II"] = "II"


class Threshold(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Op
    value: float | None = None
    limit: StandardLimit | None = None
    offset: float = Field(0.0, description="Added to the resolved value, e.g. a clear level below a limit")

    @model_validator(mode="after")
    def _one_threshold(self) -> Threshold:
        if (self.value is None) == (self.limit is None):
            raise ValueError("give exactly one of `value` or `limit`")
        return self


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: list[str] | Literal["*"] = "*"

    def includes(self, site: str) -> bool:
        return self.sites == "*" or site in self.sites


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    indicator: str
    scope: Scope = Scope()
    condition: Threshold
    clear: Threshold | None = Field(None, description="Hysteresis: the alert resolves only when this holds")
    severity: Literal["info", "warning", "critical"]
    department: str
    source: str = Field(min_length=1, description="Plan clause or standard (with version) that makes this a breach")
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    effective_from: date | None = None
    effective_until: date | None = None

    @field_validator("indicator")
    @classmethod
    def _known_indicator(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown indicator {value!r}; known: {', '.join(sorted(CATALOGUE))}")
        return value

    def in_effect(self, day: date) -> bool:
        if self.effective_from and day < self.effective_from:
            return False
        return not (self.effective_until and day > self.effective_until)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule]
