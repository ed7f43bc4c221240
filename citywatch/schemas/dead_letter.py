"""Dead letters: a rejected record kept with the reason, never dropped."""

from __future__ import annotations

import json
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, field_validator


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str


# A dead letter must fit in one Kafka message whatever was sent; past this the payload is cut (and says so).
PAYLOAD_KEPT_CHARS = 65_536


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    feed: str
    stage: str  # "ingest" (gateway) or "worker"
    errors: list[FieldError]
    payload: str  # the record as received
    received_at: AwareDatetime
    index: int | None = None  # position in the batch, when it came in one
    department: str | None = None

    @field_validator("payload")
    @classmethod
    def _bounded(cls, payload: str) -> str:
        if len(payload) <= PAYLOAD_KEPT_CHARS:
            return payload
        return f"{payload[:PAYLOAD_KEPT_CHARS]}… [cut: {len(payload)} characters received, first {PAYLOAD_KEPT_CHARS} kept]"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """pydantic's errors as (field, reason) pairs a publisher can act on."""
    out = []
    for err in exc.errors():
        field = ".".join(_field_name(p) for p in err["loc"]) or "(record)"
        reason = err["msg"]
        if err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], dict | list):
            reason = f"{reason} (got {_short(err['input'])})"
        out.append(FieldError(field=field, reason=reason))
    return out


def _field_name(part: int | str) -> str:
    """A location part as a publisher can read it: odd names (blank, dots, control characters) are quoted."""
    text = str(part)
    if text and text.strip() == text and text.isprintable() and "." not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
