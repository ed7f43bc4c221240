"""Dead letters: a rejected record kept with the reason, never dropped.

A dead letter must fit in one Kafka message (1 MiB by default) whatever was sent, or the rejection itself would
be lost: at most `MAX_ERRORS_LISTED` errors are listed (`errors_total` says how many there were), a field name is
cut at `FIELD_KEPT_CHARS` characters and a reason at `REASON_KEPT_CHARS`, and the payload at `PAYLOAD_KEPT_BYTES`
bytes of UTF-8. JSON escaping can make a character six bytes (`\\u0001`), so the largest letter is about
6 × (64 KiB + 100 × 620) ≈ 760 KB, under the broker's limit (tested with hostile inputs).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_ERRORS_LISTED = 100
FIELD_KEPT_CHARS = 120
REASON_KEPT_CHARS = 500
PAYLOAD_KEPT_BYTES = 65_536


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str

    @field_validator("field")
    @classmethod
    def _short_field(cls, value: str) -> str:
        return _cut(value, FIELD_KEPT_CHARS)

    @field_validator("reason")
    @classmethod
    def _short_reason(cls, value: str) -> str:
        return _cut(value, REASON_KEPT_CHARS)


def listed(errors: list[FieldError]) -> tuple[list[FieldError], int]:
    """The errors to list (at most MAX_ERRORS_LISTED) and how many there were."""
    return errors[:MAX_ERRORS_LISTED], len(errors)


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    feed: str
    stage: str = Field(description='"ingest" (the gateway), "worker" (a feed record) or "district" (a contribution)')
    errors: list[FieldError]
    errors_total: int = Field(0, description="How many errors the record had (errors lists the first 100)")
    payload: str  # the record as received (cut at PAYLOAD_KEPT_BYTES)
    received_at: AwareDatetime
    index: int | None = None  # position in the batch, when it came in one
    department: str | None = None
    outcome: str | None = Field(
        None,
        description="What kind of rejection: invalid, forbidden, conflict, stale-revision, too-late, wrong-partition, "
        "processing-error",
    )
    site: str | None = None
    event_id: str | None = None
    revision: int | None = None
    receipt: str | None = Field(None, description="The receipt the record was published under, when it had one")
    source: str | None = Field(None, description="Where the worker read it: topic[partition]@offset")

    @model_validator(mode="before")
    @classmethod
    def _list_at_most(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            errors = data["errors"]
            data = {
                **data,
                "errors": errors[:MAX_ERRORS_LISTED],
                "errors_total": max(len(errors), data.get("errors_total") or 0),
            }
        return data

    @field_validator("payload")
    @classmethod
    def _bounded(cls, payload: str) -> str:
        data = payload.encode("utf-8", errors="replace")
        if len(data) <= PAYLOAD_KEPT_BYTES:
            return payload
        kept = data[:PAYLOAD_KEPT_BYTES].decode("utf-8", errors="ignore")
        return f"{kept}… [cut: {len(data)} bytes received, first {PAYLOAD_KEPT_BYTES} kept]"


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
