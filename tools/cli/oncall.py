"""On-call commands against the alert service's API: `citywatch oncall alerts|ack|unack|maintenance|history`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from citywatch.local_time import localized, shown
from citywatch.settings import CommonSettings, ToolEnvironment, env_name

oncall_app = typer.Typer(help="Active alerts, acknowledgements, maintenance windows and history (on-call/admin key).")

URL = typer.Option(
    ToolEnvironment.model_fields["alerts_url"].default, envvar=env_name("alerts_url"), help="Alert service base URL"
)
KEY = typer.Option(..., envvar=env_name("api_key"), help="An on-call or admin key (`citywatch keys create`)")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table")


def _call(method: str, url: str, path: str, key: str, **kwargs: Any) -> Any:
    import httpx

    try:
        response = httpx.request(
            method, f"{url.rstrip('/')}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30, **kwargs
        )
    except httpx.HTTPError as exc:
        Console(stderr=True).print(
            f"[red]error[/]: the alert service at {url} is unreachable ({exc}); start it (`make up`) or set "
            f"{env_name('alerts_url')}"
        )
        raise typer.Exit(1) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        Console(stderr=True).print(f"[red]error[/] {response.status_code}: {detail}")
        raise typer.Exit(1)
    return response.json()


def _zone() -> Any:
    return CommonSettings().zone


def _when(epoch: float | None) -> str:
    """Local time of the deployment (CITYWATCH_TIMEZONE) with its offset, whatever the terminal's zone."""
    return shown(epoch, _zone())


WHOLE = frozenset({"fingerprint", "id"})
"""Columns never wrapped or cut: ids are copied into `ack`, `unack` and `--end`."""


def _table(*columns: str) -> Table:
    """A table that wraps long cells instead of cutting them, and keeps ids whole on one line."""
    table = Table()
    for name in columns:
        if name in WHOLE:
            table.add_column(name, no_wrap=True, overflow="ignore", min_width=16)
        else:
            table.add_column(name, overflow="fold")
    return table


def _unique(prefix: str, ids: list[str], what: str) -> str:
    """The one id starting with `prefix` (a whole id or a unique prefix, as git takes them)."""
    found = sorted({i for i in ids if i.startswith(prefix)})
    if len(found) == 1:
        return found[0]
    if not found:
        raise typer.BadParameter(f"no {what} starts with {prefix!r}")
    raise typer.BadParameter(f"{prefix!r} is the start of {len(found)} {what}s ({', '.join(found[:5])}); give more")


@oncall_app.command("alerts")
def list_alerts(url: str = URL, key: str = KEY, as_json: bool = AS_JSON) -> None:
    """Alerts pending or firing now."""
    alerts = _call("GET", url, "/v1/alerts", key)
    if as_json:
        typer.echo(json.dumps(alerts, ensure_ascii=False, indent=2))
        return
    table = _table("fingerprint", "status", "rule", "site", "severity", "since", "value", "acked by")
    for a in alerts:
        table.add_row(
            a["fingerprint"],
            a["status"],
            a["rule_id"],
            a["site"],
            a["severity"],
            _when(a["since"]),
            f"{a['value']:g} {a['unit']}",
            (a.get("ack") or {}).get("by", ""),
        )
    Console().print(table)


def _alert_id(prefix: str, url: str, key: str) -> str:
    return _unique(prefix, [a["fingerprint"] for a in _call("GET", url, "/v1/alerts", key)], "active alert")


@oncall_app.command()
def ack(
    fingerprint: str = typer.Argument(..., help="The alert's fingerprint, or a unique start of it"),
    comment: str = typer.Option(..., "--comment", "-m", help="Why, and what is being done"),
    url: str = URL,
    key: str = KEY,
) -> None:
    """Acknowledge a firing alert: no more notifications until it resolves."""
    fingerprint = _alert_id(fingerprint, url, key)
    alert = _call("POST", url, f"/v1/alerts/{fingerprint}/ack", key, json={"comment": comment})
    typer.echo(f"acknowledged {alert['rule_id']} at {alert['site']}")


@oncall_app.command()
def unack(
    fingerprint: str = typer.Argument(..., help="The alert's fingerprint, or a unique start of it"),
    url: str = URL,
    key: str = KEY,
) -> None:
    """Withdraw an acknowledgement: notifications resume."""
    fingerprint = _alert_id(fingerprint, url, key)
    alert = _call("DELETE", url, f"/v1/alerts/{fingerprint}/ack", key)
    typer.echo(f"un-acknowledged {alert['rule_id']} at {alert['site']}")


@oncall_app.command()
def maintenance(
    site: str = typer.Option(None, help="Put this site in maintenance (omit to list the windows)"),
    start: Annotated[
        datetime | None,
        typer.Option("--from", help="Start (default: now); without an offset, the deployment's local time"),
    ] = None,
    end: Annotated[
        datetime | None, typer.Option("--to", help="End; without an offset, the deployment's local time")
    ] = None,
    comment: str = typer.Option("", "--comment", "-m"),
    end_window: str = typer.Option(None, "--end", help="End the window with this id (or a unique start of it) now"),
    url: str = URL,
    key: str = KEY,
    as_json: bool = AS_JSON,
) -> None:
    """List maintenance windows, add one for a site, or end one. Times without an offset are the deployment's
    local time (CITYWATCH_TIMEZONE), not the terminal's."""
    if end_window:
        window_id = _unique(end_window, [w["id"] for w in _call("GET", url, "/v1/maintenance", key)], "window")
        window = _call("DELETE", url, f"/v1/maintenance/{window_id}", key)
        typer.echo(f"ended maintenance {window['id']} of {window['site']}")
        return
    if site:
        if end is None or not comment:
            raise typer.BadParameter("a maintenance window needs --to and --comment", param_hint="--site")
        zone = _zone()
        begins = localized(start, zone) if start else datetime.now(zone)
        body = {
            "site": site,
            "starts_at": begins.isoformat(),
            "ends_at": localized(end, zone).isoformat(),
            "comment": comment,
        }
        window = _call("POST", url, "/v1/maintenance", key, json=body)
        typer.echo(
            f"maintenance {window['id']}: {site} from {_when(window['starts_at'])} to {_when(window['ends_at'])}"
        )
        return
    windows = _call("GET", url, "/v1/maintenance", key)
    if as_json:
        typer.echo(json.dumps(windows, ensure_ascii=False, indent=2))
        return
    table = _table("id", "site", "from", "to", "by", "comment")
    for w in windows:
        table.add_row(w["id"], w["site"], _when(w["starts_at"]), _when(w["ends_at"]), w["by"], w["comment"])
    Console().print(table)


@oncall_app.command()
def history(
    site: str = typer.Option(None),
    rule: str = typer.Option(None),
    limit: int = typer.Option(50),
    url: str = URL,
    key: str = KEY,
    as_json: bool = AS_JSON,
) -> None:
    """Transitions, amendments and acknowledgements of a site or a rule, newest first."""
    if not site and not rule:
        raise typer.BadParameter("name a --site or a --rule")
    params: dict[str, Any] = {"limit": limit, **({"site": site} if site else {}), **({"rule": rule} if rule else {})}
    records = _call("GET", url, "/v1/history", key, params=params)
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    table = _table("recorded", "event time", "status", "rule", "site", "value", "detail")
    for r in records:
        value = f"{r['value']:g} {r.get('unit', '')}" if "value" in r else ""
        detail = r.get("comment") or r.get("by") or ", ".join(r.get("suppressed", []))
        if r.get("historical"):
            detail = "historical incident (backfilled history; nobody was paged)"
        table.add_row(
            _when(r["recorded_at"]), _when(r.get("event_time")), r["status"], r["rule_id"], r["site"], value, detail
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")
