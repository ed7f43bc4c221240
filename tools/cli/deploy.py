"""`citywatch deploy kubernetes`: write (or check) the registry-derived Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

deploy_app = typer.Typer(help="Deployment manifests generated from the registry and the topic definitions.")


@deploy_app.command("kubernetes")
def kubernetes(
    out: Annotated[Path, typer.Option(help="Directory of the Kubernetes manifests")] = Path("deploy/kubernetes"),
    registry_file: Annotated[
        Path | None, typer.Option("--registry", help="Site registry [default: CITYWATCH_REGISTRY_FILE]")
    ] = None,
    check: Annotated[bool, typer.Option(help="Write nothing; fail if a committed file differs")] = False,
) -> None:
    """Write the Strimzi KafkaTopics and KafkaUsers (ACLs per department) and the registry ConfigMap."""
    from citywatch.settings import AlertSettings, WorkerSettings
    from citywatch.site_registry import load_registry
    from tools.manifests.kubernetes import Deployment, render, stale_files

    worker, alerts = WorkerSettings(), AlertSettings()
    path = registry_file or Path(worker.registry_file)
    deployment = Deployment(
        topic_prefix=worker.topic_prefix, worker_app_id=worker.worker_app_id, alerts_group_id=alerts.alerts_group_id
    )
    rendered = render(deployment, load_registry(path), path)
    if check:
        stale = stale_files(out, rendered)
        if stale:
            typer.echo(f"out of date in {out}: {', '.join(stale)} (run `citywatch deploy kubernetes`)", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out}: the generated manifests are up to date")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / name).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out / name}")


def register(app: typer.Typer) -> None:
    """Add `citywatch deploy ...` to the top-level app."""
    app.add_typer(deploy_app, name="deploy")
