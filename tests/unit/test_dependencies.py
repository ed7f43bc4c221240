"""The lock files agree with pyproject.toml, and the service processes run without the report and dashboard-build
extras (the Docker image installs requirements/service.lock only)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tools.devstack.config import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
LOCKS = {"service": REPO_ROOT / "requirements/service.lock", "dev": REPO_ROOT / "requirements/dev.lock"}


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """name -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    out: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not line.startswith((" ", "#")) and "==" in text:
            spec = Requirement(text.rstrip("\\ ").split(";")[0].strip())
            name = canonicalize_name(spec.name)
            out[name] = (Version(next(iter(spec.specifier)).version), 0)
        elif text.startswith("--hash=sha256:") and name:
            version, hashes = out[name]
            out[name] = (version, hashes + 1)
    return out


def requirements(*extras: str) -> list[Requirement]:
    """pyproject's requirements with these extras, the project's own `citywatch[...]` followed."""
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    todo = list(extras)
    while todo:
        for text in EXTRAS[todo.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "citywatch":
                todo += sorted(requirement.extras)
            else:
                found.append(requirement)
    return found


@pytest.mark.parametrize(("lock", "extras"), [("service", ()), ("dev", ("dev",))])
def test_every_requirement_is_locked_at_a_version_it_allows_and_every_file_has_a_hash(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(LOCKS[lock])
    problems = []
    for requirement in requirements(*extras):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement}: not in {LOCKS[lock].name} (run `make lock`)")
        elif not requirement.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{requirement}: {LOCKS[lock].name} has {pins[name][0]} (run `make lock`)")
    problems += [f"{name}: no hash in {LOCKS[lock].name}" for name, (_, hashes) in pins.items() if hashes == 0]
    assert problems == []


def test_the_service_lock_carries_neither_the_report_nor_the_dashboard_build() -> None:
    service = locked(LOCKS["service"])
    extra_only = {canonicalize_name(r.name) for r in requirements("report", "dashboards")} - {
        canonicalize_name(r.name) for r in requirements()
    }
    assert extra_only >= {"matplotlib", "weasyprint", "grafana-foundation-sdk", "grafana-client"}
    assert sorted(extra_only & service.keys()) == []
    assert "niquests" not in service  # grafana-client's own HTTP stack: the services talk HTTP through httpx alone
    assert "tzdata" in service  # zoneinfo's Asia/Shanghai in a slim image without a tz database


BLOCK_EXTRAS = """
import importlib.abc, sys
BLOCKED = {"matplotlib", "weasyprint", "jinja2", "grafana_foundation_sdk", "grafana_client"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is an extra the service image does not install")
        return None
sys.meta_path.insert(0, Block())
"""


def test_the_service_processes_start_without_the_extras() -> None:
    """What `citywatch ingest|worker|alerts|simulate` import, with the extras' packages made unimportable."""
    script = BLOCK_EXTRAS + (
        "import tools.cli, services.ingest.app, services.alerts.app, streams.app, services.simulator.run\n"
        "from tools.cli import app\n"
        "from typer.testing import CliRunner\n"
        "for command in ('ingest', 'worker', 'alerts', 'simulate'):\n"
        "    result = CliRunner().invoke(app, [command, '--help'])\n"
        "    assert result.exit_code == 0, (command, result.output)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_the_report_needs_its_extra_and_says_so() -> None:
    """The blocker works: the report's renderer does need what the service image leaves out."""
    script = BLOCK_EXTRAS + "import tools.report.render\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode != 0
    assert "the service image does not install" in done.stderr


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["report", "--from", "2026-01-01", "--to", "2026-01-31", "--out", "/tmp/never-written"], "report"),
        (["dashboards", "build", "--check"], "dashboards"),
        (["dashboards", "push", "--url", "http://127.0.0.1:9", "--token", "t"], "dashboards"),
    ],
)
def test_a_command_that_needs_an_extra_says_which_and_how_to_install_it(args: list[str], extra: str) -> None:
    script = BLOCK_EXTRAS + (
        "from tools.cli import app\n"
        "from typer.testing import CliRunner\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "print(result.exit_code)\n"
        "print(result.output)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    code, _, output = done.stdout.partition("\n")
    assert code == "2", done.stdout + done.stderr[-2000:]
    assert f"needs the `{extra}` extra" in output
    assert f"pip install 'citywatch[{extra}]'" in output
