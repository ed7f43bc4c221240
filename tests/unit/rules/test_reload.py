"""Hot reload of rule files: what counts as a change, and a broken rule set never replaces the running one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from citywatch.rule_engine.loader import Loaded
from citywatch.rule_engine.reload import files_changed, judge, load_candidate, snapshot
from citywatch.site_registry import load_registry
from tools.devstack.config import REPO_ROOT

REGISTRY = load_registry(REPO_ROOT / "registry" / "wujiang-sample.yaml")


def test_a_changed_added_or_removed_file_counts() -> None:
    before = {"rules/a.yaml": 1, "rules/b.yaml": 2}
    assert files_changed(before, dict(before)) == []
    assert files_changed(before, {"rules/a.yaml": 1, "rules/b.yaml": 3}) == ["rules/b.yaml"]
    assert files_changed(before, {"rules/a.yaml": 1}) == ["rules/b.yaml"]
    assert files_changed(before, {**before, "rules/c.yaml": 1}) == ["rules/c.yaml"]


def test_the_snapshot_follows_the_files(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "rules" / "air.yaml", tmp_path / "air.yaml")
    first = snapshot(tmp_path)
    assert list(first) == [str(tmp_path / "air.yaml")]
    stat = (tmp_path / "air.yaml").stat()
    os.utime(tmp_path / "air.yaml", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert files_changed(first, snapshot(tmp_path)) == [str(tmp_path / "air.yaml")]


def test_the_shipped_rules_are_a_valid_candidate() -> None:
    candidate = load_candidate(REPO_ROOT / "rules", REGISTRY)
    assert candidate.problems == []
    assert candidate.rules is not None and len(candidate.rules) > 10


def test_a_broken_rule_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = (REPO_ROOT / "rules" / "air.yaml").read_text(encoding="utf-8")
    (tmp_path / "air.yaml").write_text(text.replace('op: ">"', 'op: "=>"', 1), encoding="utf-8")
    candidate = load_candidate(tmp_path, REGISTRY)
    assert candidate.rules is None
    (problem,) = candidate.problems
    line = next(n for n, t in enumerate(text.splitlines(), 1) if 'op: ">"' in t)
    assert problem.startswith(f"{tmp_path / 'air.yaml'}:{line}:")
    assert "bad operator '=>'" in problem


def test_a_yaml_syntax_error_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: [unclosed\n", encoding="utf-8")
    candidate = load_candidate(tmp_path, REGISTRY)
    assert candidate.rules is None
    assert candidate.problems[0].startswith(f"{tmp_path / 'bad.yaml'}:")


def test_label_selectors_need_a_registry() -> None:
    loaded = load_candidate(REPO_ROOT / "rules", REGISTRY)
    assert loaded.rules is not None
    selecting = [r for r in loaded.rules if r.needs_registry]
    assert selecting, "the shipped rules select sites by label"
    refused = judge(Loaded(selecting, []), None)
    assert refused.rules is None
    assert refused.problems[0] == f"rule {selecting[0].id}: selects sites by label but no registry was loaded"
