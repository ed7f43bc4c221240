"""The citywatch processes that `make up` runs beside the servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.console import Console

from citywatch.settings import CommonSettings, env_name
from tools.devstack.config import REPO_ROOT, StackConfig
from tools.devstack.stack import CitywatchProcess

if TYPE_CHECKING:
    from services.auth.keys import Role

DEMO_ONCALL_DEPARTMENT = "environment"  # the department of the scripted air and water incidents

DEMO_WORKER_CLOCK = {
    # The simulator runs days in minutes: the worker's processing clock follows the events it processes, so a
    # station the scenario silences goes stale against the others' readings (citywatch/clock.py), and staleness is
    # judged every real second (one simulated quarter hour at the default 720×) instead of every minute.
    env_name("clock_follows_events"): "true",
    env_name("worker_staleness_interval_s"): "1",
}


def local_processes(config: StackConfig) -> list[CitywatchProcess]:
    env = {
        env_name("kafka_bootstrap"): config.kafka_bootstrap,
        env_name("redis_url"): config.redis_url,
        env_name("alertmanager_url"): config.alertmanager_url,
        env_name("worker_data_dir"): str(config.run_dir / "worker"),
        env_name("simulator_keys_file"): str(config.run_dir / "simulator-keys.json"),
    }
    run = config.run_dir
    return [
        CitywatchProcess(["ingest"], "citywatch-ingest", run, env, metrics_port=8000, health_path="/healthz"),
        CitywatchProcess(["worker"], "citywatch-worker", run, {**env, **DEMO_WORKER_CLOCK}, metrics_port=6066),
        CitywatchProcess(["alerts"], "citywatch-alerts", run, env, metrics_port=8010, health_path="/healthz"),
        CitywatchProcess(["simulate"], "citywatch-simulator", run, env, metrics_port=8020),
    ]


def simulator_keys(config: StackConfig, departments: list[str]) -> Path:
    """One publisher key per department for the simulator, created once and kept (0600) in the run dir."""
    return _keys_file(config, "simulator-keys.json", [(d, "publisher") for d in departments])


def demo_oncall_key(config: StackConfig, department: str) -> Path:
    """An on-call key of one department for the on-call page of the demo, created once and kept (0600)."""
    return _keys_file(config, "oncall-key.json", [(department, "oncall")])


def _keys_file(config: StackConfig, name: str, wanted: list[tuple[str, str]]) -> Path:
    path = config.run_dir / name
    if path.exists():
        return path

    async def create() -> dict[str, str]:
        from redis.asyncio import Redis

        from services.auth.keys import KeyStore

        redis = Redis.from_url(config.redis_url)
        try:
            store = KeyStore(redis, CommonSettings().redis_prefix)
            return {dept: (await store.create(dept, cast("Role", role)))[0] for dept, role in wanted}
        finally:
            await redis.aclose()

    keys = asyncio.run(create())
    path.touch(mode=0o600)
    path.write_text(json.dumps(keys, indent=2))
    return path


def start_services(config: StackConfig, say: Callable[[str], None] = print) -> None:
    from citywatch.site_registry import load_registry
    from citywatch.topics import Topics
    from services.topic_admin import ensure_topics

    registry = load_registry(REPO_ROOT / CommonSettings().registry_file)
    from citywatch.settings import WorkerSettings

    worker = WorkerSettings()
    created = ensure_topics(
        config.kafka_bootstrap, Topics(), worker.topic_partitions, registry.feeds_by_department(), worker.worker_app_id
    )
    if created:
        say(f"created topics: {', '.join(created)}")
    simulator_keys(config, [d.id for d in registry.departments])
    demo_oncall_key(config, DEMO_ONCALL_DEPARTMENT)
    # Departments' own producers: a SCRAM user each, allowed to write only its feed topics.
    from services.kafka_security import department_credentials, ensure_department_access

    departments = registry.feeds_by_department()
    ensure_department_access(
        config.kafka_bootstrap, Topics(), departments, department_credentials(config.run_dir, departments)
    )
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
    key_file = config.run_dir / "oncall-key.json"
    out.print(f"  on-call page        http://127.0.0.1:8010/  (the {DEMO_ONCALL_DEPARTMENT} on-call key: {key_file})")
    out.print("  alert service API   http://127.0.0.1:8010/docs")
    out.print(f"  Alertmanager API    {config.alertmanager_url}/api/v2/alerts  (Debian's package has no web UI)")
    out.print("  metrics             http://127.0.0.1:8000/metrics (ingest), :6066/metrics (worker),")
    out.print("                      :8010/metrics (alerts), :8020/metrics (simulator)")
    out.print("  alerts topic        .venv/bin/citywatch tail alerts")
    out.print(f"  logs                {config.run_dir / 'logs'}")
    out.print("  stop                make down")
