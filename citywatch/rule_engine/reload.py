"""Hot reload of the rule files: when to reload, and whether a new rule set may replace the running one.

The worker reloads on SIGHUP, on `POST /rules/reload` and when a rule file's modification time changes (a timer
compares `snapshot`s). A rule set with any problem (what `citywatch rules lint` reports) never replaces the
running one: the worker keeps its rules and logs each problem as file:line:column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from citywatch.rule_engine.loader import Loaded, load_paths, rule_files
from citywatch.rule_engine.model import Rule
from citywatch.site_registry import Registry

Snapshot = dict[str, int]
"""Rule file path -> modification time in nanoseconds."""


def snapshot(path: Path) -> Snapshot:
    """The rule files under `path` and their modification times (a file that vanished mid-way is left out)."""
    out: Snapshot = {}
    for file in rule_files(path):
        try:
            out[str(file)] = file.stat().st_mtime_ns
        except OSError:
            continue
    return out


def files_changed(before: Mapping[str, int], after: Mapping[str, int]) -> list[str]:
    """Files added, removed or modified between two snapshots, sorted."""
    return sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))


@dataclass(frozen=True)
class Candidate:
    """A freshly loaded rule set: `rules` to use, or None with the `problems` that forbid it."""

    rules: list[Rule] | None
    problems: list[str] = field(default_factory=list)


def judge(loaded: Loaded, registry: Registry | None) -> Candidate:
    """Whether a loaded rule set may replace the running one (the same conditions as `load_rules`)."""
    problems = [str(p) for p in sorted(loaded.problems)]
    if registry is None:
        problems += [
            f"rule {r.id}: selects sites by label but no registry was loaded" for r in loaded.rules if r.needs_registry
        ]
    if problems:
        return Candidate(None, problems)
    return Candidate(list(loaded.rules))


def load_candidate(path: Path, registry: Registry | None) -> Candidate:
    return judge(load_paths([path], registry), registry)
