from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from citywatch.settings import CommonSettings
from citywatch.site_registry import Registry, load_registry
from citywatch.standards import local_date
from tools import dashboard_builder as dashboards
from tools.cli.dashboards import DEFAULT_REGISTRY
from tools.dashboard_builder.common import Context
from tools.devstack.config import REPO_ROOT


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
