"""A record whose event id was seen before: a duplicate, a correction, a conflict or a stale revision. Pure.

Event ids belong to a department and a site (the gateway's ledger is keyed by both; the worker's is a site's own
state, and a site has one department), so one department can never turn another's record into a "duplicate".

| same id, and | verdict | counts? |
|---|---|---|
| a higher revision | correction | yes |
| the same revision and content | duplicate | no (it already counted) |
| the same revision, other content | conflict | no: refused with the differing fields (409 / dead letter) |
| a lower revision | stale revision | no: refused (409 / dead letter) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from citywatch.schemas.dead_letter import FieldError

Verdict = Literal["new", "correction", "duplicate", "conflict", "stale-revision"]
REFUSED: frozenset[str] = frozenset({"conflict", "stale-revision"})


@dataclass(frozen=True)
class Published:
    """What was published under one event id: its latest revision and what that revision said."""

    revision: int
    content: Mapping[str, Any]


@dataclass(frozen=True)
class Repeat:
    verdict: Verdict
    error: FieldError | None = None


def judge(event_id: str, revision: int, content: Mapping[str, Any], previous: Published | None) -> Repeat:
    """The verdict on a record given what was published under its event id before (None: nothing)."""
    if previous is None:
        return Repeat("new")
    if revision > previous.revision:
        return Repeat("correction")
    if revision < previous.revision:
        return Repeat("stale-revision", stale_error(event_id, revision, previous.revision))
    differing = sorted(k for k in content.keys() | previous.content.keys() if content.get(k) != previous.content.get(k))
    if not differing:
        return Repeat("duplicate")
    shown = "; ".join(
        f"{k}: published {_show(previous.content.get(k))}, now {_show(content.get(k))}" for k in differing[:5]
    )
    more = f" (and {len(differing) - 5} more)" if len(differing) > 5 else ""
    reason = (
        f"conflict: event {event_id} revision {revision} was already published with other content ({shown}{more}); "
        f"to correct it, send revision {previous.revision + 1}"
    )
    return Repeat("conflict", FieldError(field=differing[0], reason=reason))


def stale_error(event_id: str, revision: int, latest: int) -> FieldError:
    reason = (
        f"stale revision: event {event_id} is already at revision {latest}; revision {revision} is older and does "
        "not count"
    )
    return FieldError(field="revision", reason=reason)


def conflict_error(event_id: str, revision: int) -> FieldError:
    """A conflict found by content digest alone (the worker's ledger keeps no content): which fields is unknown."""
    reason = (
        f"conflict: event {event_id} revision {revision} was already processed with other content; to correct it, "
        f"send revision {revision + 1}"
    )
    return FieldError(field="revision", reason=reason)


def _show(value: Any) -> str:
    text = "absent" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
