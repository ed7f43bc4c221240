"""`citywatch dashboards build [--check]` and `citywatch dashboards push --url URL --token TOKEN [--folder NAME]`.

build writes dashboards/*.json and the recording-rules file from tools/dashboard_builder/ (with --check it only
compares, exiting 1 when a committed file differs); push uploads the dashboards to a Grafana through its HTTP API.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from citywatch.settings import CommonSettings
from citywatch.site_registry import load_registry
from citywatch.standards import local_date
from tools.cli.extras import require_extra
from tools.devstack.config import REPO_ROOT

dashboards_app = typer.Typer(help="Grafana dashboards as code: build the JSON, or push it to a Grafana.")

DEFAULT_REGISTRY = REPO_ROOT / "registry/wujiang-sample.yaml"
DEFAULT_FOLDER = "citywatch"


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=code)


def _today() -> dt.date:
    return local_date(dt.datetime.now(dt.UTC), CommonSettings().zone)


@dashboards_app.command("build")
def build_command(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare: exit 1 when a committed file differs from the code")
    ] = False,
    registry: Annotated[Path, typer.Option(help="Site registry the names, coordinates and plants come from")] = (
        DEFAULT_REGISTRY
    ),
) -> None:
    """Generate the dashboards' JSON and the recording rules from the code."""
    require_extra("dashboards", "dashboards build")
    from tools import dashboard_builder as dashboards

    files = dashboards.generate(dashboards.context(load_registry(registry), _today()))
    if check:
        stale = dashboards.stale(files, REPO_ROOT)
        if stale:
            _fail(
                "generated from tools/dashboard_builder/ but different from the committed file: "
                + ", ".join(stale)
                + "; run `citywatch dashboards build` and commit the result"
            )
        typer.echo(f"ok: {len(files)} files match the code")
        return
    dashboards.write(files, REPO_ROOT)
    for f in files:
        typer.echo(f"wrote {f.path}")


@dashboards_app.command("push")
def push_command(
    url: Annotated[str, typer.Option(help="Grafana base URL, e.g. http://127.0.0.1:3000")],
    token: Annotated[str, typer.Option(help="Grafana service-account token (Editor or Admin)", envvar="GRAFANA_TOKEN")],
    folder: Annotated[str, typer.Option(help="Folder to put the dashboards in (created if missing)")] = DEFAULT_FOLDER,
    directory: Annotated[Path, typer.Option(help="Where the dashboard JSON is")] = REPO_ROOT / "dashboards",
) -> None:
    """Upload every dashboards/*.json to a Grafana, replacing dashboards with the same uid."""
    require_extra("dashboards", "dashboards push")
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    boards = sorted(directory.glob("*.json"))
    if not boards:
        _fail(f"no dashboard JSON in {directory}; run `citywatch dashboards build` first", code=2)
    api = GrafanaApi.from_url(url, credential=token)
    try:
        folder_uid = _ensure_folder(api, folder)
        for path in boards:
            board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            board.pop("id", None)
            api.dashboard.update_dashboard(
                {"dashboard": board, "folderUid": folder_uid, "overwrite": True, "message": "citywatch dashboards push"}
            )
            typer.echo(f"pushed {board.get('uid')} ({board.get('title')}) to {url} folder {folder!r}")
    except GrafanaClientError as exc:
        hint = " (check the token: it needs Editor or Admin)" if exc.status_code in (401, 403) else ""
        _fail(f"Grafana at {url} refused the request: {exc.status_code} {exc.message}{hint}")
    except GrafanaException as exc:
        _fail(f"Grafana at {url} answered with an error: {exc.status_code} {exc.message}")
    except OSError as exc:
        _fail(f"cannot reach Grafana at {url}: {exc}")


def _ensure_folder(api: Any, title: str) -> str:
    """The uid of the folder titled `title`, created when there is none."""
    for existing in api.folder.get_all_folders():
        if existing.get("title") == title:
            return str(existing["uid"])
    created = api.folder.create_folder(title)
    return str(created["uid"])


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")
