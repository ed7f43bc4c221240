"""The import contracts in pyproject.toml (`[tool.importlinter]`): kept by the tree, and broken by the imports they
forbid (so a contract that names a module wrongly, and so forbids nothing, fails here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tools.devstack.config import REPO_ROOT

PACKAGES = ("citywatch", "services", "streams", "tools")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(command), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_the_tree_keeps_every_import_contract() -> None:
    done = lint_imports(REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_each_contract_breaks_on_the_import_it_forbids(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path)
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    violations = {
        "citywatch/standards/aqi.py": "import redis",  # the core doing I/O
        "citywatch/rule_engine/evaluation.py": "from streams import pipeline",  # the core on a process
        "citywatch/feeds/air.py": "from tools.report import render",  # the core on a tool
        "streams/outputs.py": "from services.ingest import app",  # one process on another
        "services/topic_admin.py": "from tools.cli import main",  # plumbing on a tool
        "tools/dashboard_builder/water.py": "from services.alerts import service",  # a process, for a metric name
    }
    for path, line in violations.items():
        with (tmp_path / path).open("a", encoding="utf-8") as f:
            f.write(f"\n{line}  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "0 kept, 3 broken" in done.stdout
    for reported in (
        "citywatch.standards is not allowed to import redis",
        "citywatch.rule_engine is not allowed to import streams",
        "citywatch.feeds is not allowed to import tools.report",
        "streams is not allowed to import services.ingest",
        "services.topic_admin is not allowed to import tools.cli",
        "tools.dashboard_builder is not allowed to import services.alerts.service",
    ):
        assert reported in done.stdout
