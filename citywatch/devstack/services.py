"""The citywatch processes that `make up` runs beside the servers."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from citywatch.devstack.config import StackConfig
from citywatch.devstack.stack import CitywatchProcess


def local_processes(config: StackConfig) -> list[CitywatchProcess]:
    env = {
        "CITYWATCH_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "CITYWATCH_REDIS_URL": config.redis_url,
        "CITYWATCH_ALERTMANAGER_URL": config.alertmanager_url,
        "CITYWATCH_WORKER_DATA_DIR": str(config.run_dir / "worker"),
    }
    run = config.run_dir
    return [
        CitywatchProcess(["ingest"], "citywatch-ingest", run, env, metrics_port=8000, health_path="/healthz"),
        CitywatchProcess(["worker"], "citywatch-worker", run, env, metrics_port=6066),
        CitywatchProcess(["alerts"], "citywatch-alerts", run, env, metrics_port=8010, health_path="/healthz"),
        CitywatchProcess(["simulate"], "citywatch-simulator", run, env, metrics_port=8020),
    ]


def start_services(config: StackConfig, say: Callable[[str], None] = print) -> None:
    from citywatch.topics import Topics
    from services.topics import ensure_topics

    created = ensure_topics(config.kafka_bootstrap, Topics(), partitions=4)
    if created:
        say(f"created topics: {', '.join(created)}")
    for proc in local_processes(config):
        if proc.process.is_running():
            say(f"{proc.name} already running")
            continue
        say(f"starting {proc.name} …")
        proc.start()
        proc.register_target(config.targets_dir)


def stop_services(config: StackConfig, say: Callable[[str], None] = print) -> None:
    for proc in reversed(local_processes(config)):
        if proc.process.is_running():
            proc.stop()
            say(f"stopped {proc.name}")


def services_status(config: StackConfig) -> dict[str, str]:
    return {p.name: ("running" if p.process.is_running() else "stopped") for p in local_processes(config)}


def print_where_to_look(config: StackConfig) -> None:
    out = Console(width=200, soft_wrap=True)
    out.print("\n[bold green]citywatch is up.[/] Where to look:")
    out.print("  ingest API docs     http://127.0.0.1:8000/docs")
    out.print(f"  Prometheus          {config.prometheus_url}/graph?g0.expr=citywatch_air_pm25_ugm3")
    out.print(f"  Alertmanager        {config.alertmanager_url}/#/alerts")
    out.print("  metrics             http://127.0.0.1:8000/metrics (ingest), :6066/metrics (worker),")
    out.print("                      :8010/metrics (alerts), :8020/metrics (simulator)")
    out.print("  alerts topic        .venv/bin/citywatch tail alerts")
    out.print(f"  logs                {config.run_dir / 'logs'}")
    out.print("  stop                make down")
