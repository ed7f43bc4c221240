from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from citywatch import dashboards
from citywatch.cli.dashboards import DEFAULT_REGISTRY
from citywatch.dashboards.common import Context
from citywatch.devstack.config import REPO_ROOT
from citywatch.registry import Registry, load_registry
from citywatch.settings import CommonSettings
from citywatch.standards import local_date


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry(DEFAULT_REGISTRY)


@pytest.fixture(scope="session")
def ctx(registry: Registry) -> Context:
    """The context `citywatch dashboards build` uses today."""
    today = local_date(dt.datetime.now(dt.UTC), CommonSettings().zone)
    return dashboards.context(registry, today)


@pytest.fixture(scope="session")
def committed() -> dict[str, dict[str, Any]]:
    """The committed dashboard JSON by uid."""
    boards = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((REPO_ROOT / "dashboards").glob("*.json"))]
    return {b["uid"]: b for b in boards}


def committed_paths() -> list[Path]:
    return sorted((REPO_ROOT / "dashboards").glob("*.json"))
