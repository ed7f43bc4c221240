"""`citywatch dashboards push` against a stand-in for grafana-client's GrafanaApi (no Grafana here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from grafana_client.client import GrafanaClientError
from typer.testing import CliRunner

from tools.cli import app


class FakeFolders:
    def __init__(self, existing: list[dict[str, Any]]) -> None:
        self.existing = existing
        self.created: list[str] = []

    def get_all_folders(self) -> list[dict[str, Any]]:
        return self.existing

    def create_folder(self, title: str) -> dict[str, Any]:
        self.created.append(title)
        return {"uid": "new-folder", "title": title}


class FakeDashboards:
    def __init__(self, fail: Exception | None = None) -> None:
        self.pushed: list[dict[str, Any]] = []
        self.fail = fail

    def update_dashboard(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        self.pushed.append(body)
        return {"status": "success"}


class FakeApi:
    def __init__(self, folders: FakeFolders, dashboards: FakeDashboards) -> None:
        self.folder = folders
        self.dashboard = dashboards


def _install(monkeypatch: pytest.MonkeyPatch, api: FakeApi) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []

    def from_url(url: str, credential: Any = None, timeout: float = 5.0) -> FakeApi:
        calls.append((url, credential))
        return api

    monkeypatch.setattr("grafana_client.api.GrafanaApi.from_url", staticmethod(from_url))
    return calls


def test_push_creates_the_folder_and_overwrites_each_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(FakeFolders([{"uid": "other", "title": "General"}]), FakeDashboards())
    calls = _install(monkeypatch, api)
    result = CliRunner().invoke(app, ["dashboards", "push", "--url", "http://grafana:3000", "--token", "t0k"])
    assert result.exit_code == 0, result.output
    assert calls == [("http://grafana:3000", "t0k")]
    assert api.folder.created == ["citywatch"]
    assert {b["dashboard"]["uid"] for b in api.dashboard.pushed} >= {"citywatch-overview", "citywatch-air"}
    assert all(b["overwrite"] and b["folderUid"] == "new-folder" for b in api.dashboard.pushed)


def test_push_reuses_an_existing_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi(FakeFolders([{"uid": "ops", "title": "Operations"}]), FakeDashboards())
    _install(monkeypatch, api)
    args = ["dashboards", "push", "--url", "http://g", "--token", "t", "--folder", "Operations"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert api.folder.created == []
    assert all(b["folderUid"] == "ops" for b in api.dashboard.pushed)


def test_push_explains_a_refused_token(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = GrafanaClientError(401, None, "Unauthorized")
    _install(monkeypatch, FakeApi(FakeFolders([]), FakeDashboards(fail=refused)))
    result = CliRunner().invoke(app, ["dashboards", "push", "--url", "http://g", "--token", "bad"])
    assert result.exit_code == 1
    assert "refused" in result.output and "token" in result.output


def test_push_without_dashboards_says_to_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["dashboards", "push", "--url", "http://g", "--token", "t", "--directory", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "citywatch dashboards build" in result.output
