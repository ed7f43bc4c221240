"""The worker's side of the rule engine: reloading the rule files (logged, counted) and which sites' staleness
this worker judges. The engine itself is pure (`citywatch/rule_engine/engine.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aiokafka.partitioner import murmur2

from citywatch.rule_engine.engine import ReloadDiff, RuleEngine
from citywatch.rule_engine.model import Rule
from citywatch.rule_engine.reload import files_changed, load_candidate, snapshot
from citywatch.site_registry import Registry
from streams import metrics

log = logging.getLogger("citywatch.worker.rules")

ReloadOutcome = Literal["applied", "unchanged", "failed"]


def rules_key(site: str) -> str:
    """The state-table key of a site's rule state, kept in the partition of the site's own readings."""
    return f"rules:{site}"


def history_rules_key(site: str) -> str:
    """The state-table key of the rule state of a site's history lane (its historical engine's)."""
    return f"rules-history:{site}"


@lru_cache(maxsize=65536)
def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, the Java client's and aiokafka's) gives a key: where a
    site's readings, and so its table state, live."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class ReloadResult:
    outcome: ReloadOutcome
    diff: ReloadDiff | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        diff = self.diff or ReloadDiff()
        return {
            "outcome": self.outcome,
            "added": list(diff.added),
            "changed": list(diff.changed),
            "removed": list(diff.removed),
            "unchanged": len(diff.unchanged),
            "problems": self.problems,
        }


class RuleSource:
    """The rule files behind an engine: reload them on request or when their modification times change."""

    def __init__(
        self,
        engine: RuleEngine,
        path: Path,
        registry: Registry | None,
        retire: Callable[[list[Rule], list[tuple[Rule, Rule]]], Awaitable[None]] | None = None,
        also: Sequence[RuleEngine] = (),
    ) -> None:
        self.engine = engine
        self.also = also  # engines that evaluate the same rules (the history lanes'): reloaded with it
        # publishes the last evaluations of removed rules, and of sites a changed rule's scope no longer takes
        self.retire = retire
        self.path = path
        self.registry = registry
        self._snapshot = snapshot(path)
        self._lock = asyncio.Lock()
        metrics.RULES_LOADED.set(len(engine.rules))

    async def reload(self, why: str) -> ReloadResult:
        """Load the files; replace the engine's rules only if they load without any problem."""
        async with self._lock:
            self._snapshot = snapshot(self.path)
            candidate = await asyncio.to_thread(load_candidate, self.path, self.registry)
            if candidate.rules is None:
                log.error(
                    "rule reload (%s) refused, keeping the %d running rules:\n%s",
                    why,
                    len(self.engine.rules),
                    "\n".join(candidate.problems),
                )
                result = ReloadResult("failed", problems=candidate.problems)
            else:
                before = {r.id: r for r in self.engine.rules}
                diff = self.engine.reload(candidate.rules)
                for other in self.also:
                    other.reload(candidate.rules)
                log.info("rule reload (%s): %s", why, diff)
                if (diff.removed or diff.changed) and self.retire is not None:
                    after = {r.id: r for r in candidate.rules}
                    await self.retire(
                        [before[rule_id] for rule_id in diff.removed],
                        [(before[rule_id], after[rule_id]) for rule_id in diff.changed],
                    )
                result = ReloadResult("unchanged" if diff.empty else "applied", diff)
            metrics.RULE_RELOADS.labels(outcome=result.outcome).inc()
            metrics.RULES_LOADED.set(len(self.engine.rules))
            return result

    async def reload_if_changed(self) -> ReloadResult | None:
        changed = files_changed(self._snapshot, snapshot(self.path))
        if not changed:
            return None
        return await self.reload(f"changed: {', '.join(changed)}")
