"""Commands that need an optional extra (pyproject.toml) say so, and how to install it, instead of a traceback."""

from __future__ import annotations

import importlib.util

import typer

# The module each extra's command imports, by the extra's name in pyproject.toml.
EXTRA_MODULES = {
    "report": ("matplotlib", "jinja2", "weasyprint"),
    "dashboards": ("grafana_foundation_sdk", "grafana_client"),
}


def require_extra(extra: str, command: str) -> None:
    """Exit with a message naming the extra when one of its modules is not installed."""
    missing = [name for name in EXTRA_MODULES[extra] if not _installed(name)]
    if missing:
        typer.echo(
            f"Error: `citywatch {command}` needs the `{extra}` extra ({', '.join(missing)} not installed): "
            f"pip install 'citywatch[{extra}]', or `make install` from a checkout",
            err=True,
        )
        raise typer.Exit(code=2)


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses it; a module set to None in sys.modules
        return False
