"""Dead letters: a rejected record kept with the reason, never dropped."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    feed: str
    stage: str  # "ingest" (gateway) or "worker"
    errors: list[FieldError]
    payload: str  # the record as received
    received_at: AwareDatetime
    index: int | None = None  # position in the batch, when it came in one
    department: str | None = None


def field_errors(exc: ValidationError) -> list[FieldError]:
    """pydantic's errors as (field, reason) pairs a publisher can act on."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(record)"
        reason = err["msg"]
        if err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], dict | list):
            reason = f"{reason} (got {_short(err['input'])})"
        out.append(FieldError(field=field, reason=reason))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
