"""API key administration: `citywatch keys create|rotate|revoke|list`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table

from citywatch.settings import CommonSettings, env_name
from tools.cli.kafka_access import stack_unreachable

keys_app = typer.Typer(help="Per-department API keys (stored hashed in Redis).")
T = TypeVar("T")


def _with_store(action: Callable[..., Awaitable[T]]) -> T:
    from redis.asyncio import Redis

    from services.auth.keys import KeyStore

    settings = CommonSettings()

    async def run() -> T:
        redis = Redis.from_url(settings.redis_url)
        try:
            return await action(KeyStore(redis, settings.redis_prefix))
        finally:
            await redis.aclose()

    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        return asyncio.run(run())
    except RedisConnectionError as exc:
        stack_unreachable(f"Redis at {settings.redis_url} is unreachable ({exc})", env_name("redis_url"), exc)


@keys_app.command()
def create(
    department: str = typer.Option(..., help="Department id from the site registry"),
    role: str = typer.Option("publisher", help="publisher, oncall or admin"),
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from citywatch.site_registry import load_registry

    known = [d.id for d in load_registry(CommonSettings().registry_file).departments]
    if department not in known:
        raise typer.BadParameter(
            f"no department {department!r} in the site registry; known: {', '.join(known)}", param_hint="--department"
        )
    try:
        key, record = _with_store(lambda store: store.create(department, role))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc
    Console(stderr=True).print(
        f"created key {record.key_id} for {department} ({role}); store it now, it is not shown again:"
    )
    typer.echo(key)


@keys_app.command()
def rotate(key_id: str = typer.Argument(..., help="Id of the key to replace")) -> None:
    """Replace a key with a new one for the same department and role; the old one stops working."""
    try:
        key, record = _with_store(lambda store: store.rotate(key_id))
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="KEY_ID") from exc
    Console(stderr=True).print(f"key {key_id} revoked; new key {record.key_id}:")
    typer.echo(key)


@keys_app.command()
def revoke(key_id: str = typer.Argument(..., help="Id of the key to revoke")) -> None:
    """Revoke a key at once."""
    try:
        _with_store(lambda store: store.revoke(key_id))
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="KEY_ID") from exc
    typer.echo(f"revoked {key_id}")


@keys_app.command("list")
def list_keys() -> None:
    """List keys (ids, departments, roles, state), never the keys themselves."""
    records = _with_store(lambda store: store.list())
    table = Table("key id", "department", "role", "created", "state")
    for r in records:
        created = datetime.fromtimestamp(r.created_at, UTC).isoformat(timespec="seconds")
        table.add_row(r.key_id, r.department, r.role, created, "active" if r.active else "revoked")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `citywatch keys ...` to the top-level app."""
    app.add_typer(keys_app, name="keys")
