"""Whether a department's record counts: the site registry's say, then the clock's. Pure.

The gateway (HTTP), the worker (records published straight to Kafka) and `citywatch publish` (its local check)
ask the same questions in the same order, so a record is refused for the same reason wherever it enters:

1. **scope**: the site is in the registry, is a site of this feed, and belongs to the publishing department
   (refused as *forbidden* when it belongs to another department: 403 at the gateway);
2. **registry semantics**: what the registry says about the record's other ids: a bus count's vehicle is in the
   fleet, runs this route and has the drive the record states; a waste record's kind is one its plant accepts;
3. **bounded clocks** (`citywatch.intake.clock`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from citywatch.intake.clock import ClockBounds
from citywatch.schemas.dead_letter import FieldError
from citywatch.schemas.feed_record import FeedRecord
from citywatch.site_registry import Registry


@dataclass(frozen=True)
class Refusal:
    """Why a valid record does not count: every problem found, and whether it is about who may publish it."""

    errors: tuple[FieldError, ...]
    forbidden: bool = False


def scope_problem(registry: Registry, department: str, feed: str, site: str) -> Refusal | None:
    """Why the department may not publish this site on this feed (None when `Registry.may_publish` allows it)."""
    if registry.may_publish(department, feed, site):
        return None
    from citywatch.feeds import FEEDS  # the feeds' processors judge lateness with the intake's rules

    field = FEEDS[feed].site_field
    if not registry.has_site(site) or registry.site(site).feed != feed:
        return Refusal(
            (FieldError(field=field, reason=f"unknown {feed} site {site!r}; it is not in the site registry"),)
        )
    owner = registry.owner_of(site)
    if owner != department:
        reason = f"site {site!r} belongs to department {owner!r}; {department!r} may not publish it"
        return Refusal((FieldError(field=field, reason=reason),), forbidden=True)
    reason = f"department {department!r} does not publish the {feed} feed (see the site registry)"
    return Refusal((FieldError(field=field, reason=reason),), forbidden=True)


def registry_problems(registry: Registry, feed: str, record: FeedRecord) -> list[FieldError]:
    """What the registry contradicts in a record whose site is known (a bus count's vehicle, a delivery's waste
    kind): the feed's description says what to check."""
    from citywatch.feeds import FEEDS  # the feeds' processors judge lateness with the intake's rules

    check = FEEDS[feed].registry_problems
    return [] if check is None else check(registry, record)


def admission(
    registry: Registry,
    department: str,
    feed: str,
    record: FeedRecord,
    bounds: ClockBounds,
    received_at: dt.datetime,
) -> Refusal | None:
    """Why a record (already valid against its feed's schema) does not count, or None when it does."""
    scope = scope_problem(registry, department, feed, record.site_id)
    if scope is not None:
        return scope
    problems = registry_problems(registry, feed, record) + bounds.problems(record, received_at)
    return Refusal(tuple(problems)) if problems else None
