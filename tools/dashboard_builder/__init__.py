"""Grafana dashboards as code (grafana-foundation-sdk), and the recording rules their heavier queries use.

One module per dashboard, each with `UID` and `build(ctx)`; `common` holds what they share. `citywatch dashboards
build` writes `dashboards/<uid>.json` and the recording-rules file; `--check` compares them instead.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from citywatch.site_registry import Registry
from tools.dashboard_builder import air, alerts, bus, overview, pipeline, recording, waste, water
from tools.dashboard_builder.common import Context, standards_date

MODULES: tuple[ModuleType, ...] = (overview, air, water, bus, waste, alerts, pipeline)
DASHBOARDS_DIR = "dashboards"


@dataclass(frozen=True)
class Generated:
    """One generated file: its path relative to the repository root and its text."""

    path: str
    text: str


def render_dashboard(board: Any) -> str:
    return json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def context(registry: Registry, today: dt.date) -> Context:
    return Context(registry=registry, standards_on=standards_date(today))


def generate(ctx: Context) -> list[Generated]:
    """Every dashboard JSON and the recording-rules file, as the code defines them."""
    builders: list[tuple[str, Callable[[Context], Any]]] = [(mod.UID, mod.build) for mod in MODULES]
    files = [Generated(f"{DASHBOARDS_DIR}/{uid}.json", render_dashboard(build(ctx))) for uid, build in builders]
    files.append(Generated(recording.RULES_FILE, recording.render_rules()))
    return files


def stale(files: list[Generated], root: Path) -> list[str]:
    """Paths whose committed text differs from the generated one (or that are missing)."""
    out: list[str] = []
    for f in files:
        target = root / f.path
        if not target.is_file() or target.read_text(encoding="utf-8") != f.text:
            out.append(f.path)
    return out


def write(files: list[Generated], root: Path) -> None:
    for f in files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.text, encoding="utf-8")
