"""Structure of docker-compose.yml, the configs it mounts, and the one Dockerfile.

There is no Docker engine on the development machines, so the compose stack is never started here.
Each rule is a `*_problems(...)` function that returns human-readable problems (empty = fine); the
tests assert the shipped files have none, and `test_check_catches_mutation` proves every check fails
on a deliberately broken copy, so a check cannot silently rot into asserting nothing.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_DIR = COMPOSE_FILE.parent
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_CONFIG = ROOT / "deploy" / "compose" / "prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "compose" / "grafana" / "provisioning"
GRAFANA_DATASOURCE = GRAFANA_PROVISIONING / "datasources" / "prometheus.yml"
GRAFANA_DASHBOARDS_PROVIDER = GRAFANA_PROVISIONING / "dashboards" / "citywatch.yml"

# The `citywatch` subcommands that run a long-lived process.
CITYWATCH_SUBCOMMANDS = frozenset({"ingest", "worker", "alerts", "simulate"})
# compose service -> the subcommand it runs.
CITYWATCH_SERVICES = {
    "citywatch-ingest": "ingest",
    "citywatch-worker": "worker",
    "citywatch-alerts": "alerts",
    "citywatch-simulator": "simulate",
}
SERVERS = frozenset({"kafka", "redis", "prometheus", "alertmanager", "grafana"})
EXPECTED_SERVICES = SERVERS | CITYWATCH_SERVICES.keys()
# Who must wait for whom (at least these; each with condition service_healthy).
REQUIRED_DEPENDENCIES = {
    "citywatch-ingest": {"kafka"},
    "citywatch-worker": {"kafka"},
    "citywatch-alerts": {"kafka", "redis", "alertmanager"},
    "citywatch-simulator": {"citywatch-ingest"},
    "grafana": {"prometheus"},
}
# Services whose state must survive `docker compose down` (named volume required).
STATEFUL_SERVICES = frozenset({"kafka", "redis", "prometheus", "alertmanager", "grafana", "citywatch-worker"})
# Processes that must listen on all interfaces inside their container, by the variable that says so.
BIND_HOST_VARIABLES = {
    "citywatch-ingest": "CITYWATCH_INGEST_HOST",
    "citywatch-alerts": "CITYWATCH_ALERTS_HOST",
    "citywatch-worker": "CITYWATCH_WORKER_WEB_HOST",
    "citywatch-simulator": "CITYWATCH_SIMULATOR_METRICS_HOST",
}
# CITYWATCH_* variables that name another service (host[:port] or URL).
SERVICE_ADDRESS_VARIABLES = (
    "CITYWATCH_KAFKA_BOOTSTRAP",
    "CITYWATCH_REDIS_URL",
    "CITYWATCH_ALERTMANAGER_URL",
    "CITYWATCH_INGEST_URL",
)
# 9093 is Alertmanager's HTTP port and 9094 its cluster (gossip) port.
FORBIDDEN_CONTROLLER_PORTS = frozenset({9093, 9094})
KAFKA_REQUIRED_ENV = (
    "KAFKA_NODE_ID",
    "KAFKA_PROCESS_ROLES",
    "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS",
    "KAFKA_CONTROLLER_QUORUM_VOTERS",
    "KAFKA_CONTROLLER_LISTENER_NAMES",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    "CLUSTER_ID",
)

Compose = dict[str, Any]


# ---------------------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)  # safe_load resolves `<<: *anchor` merge keys like compose does


def services_of(compose: Compose) -> dict[str, dict[str, Any]]:
    services = compose.get("services") or {}
    assert isinstance(services, dict), "top-level `services` must be a mapping"
    return services


def entries_of(compose: Compose, key: str) -> Iterator[tuple[str, Any]]:
    """(service name, entry) of every entry of each service's `key` list (`ports`, `volumes`)."""
    for name, service in services_of(compose).items():
        for entry in service.get(key) or []:
            yield name, entry


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, in either the mapping or the `KEY=value` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def parse_port(entry: Any) -> tuple[str | None, str | None, int]:
    """(host_ip, host_port, container_port) of one `ports` entry, short or long syntax."""
    if isinstance(entry, dict):
        published = entry.get("published")
        return entry.get("host_ip"), None if published is None else str(published), int(entry["target"])
    text = str(entry).split("/", 1)[0]
    if text.startswith("["):  # [ipv6]:host:container
        ip, _, rest = text[1:].partition("]:")
        host_port, _, container = rest.partition(":")
        return ip, host_port, int(container)
    parts = text.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], int(parts[2])
    if len(parts) == 2:
        return None, parts[0], int(parts[1])
    return None, None, int(parts[0])


def container_ports(service: dict[str, Any]) -> set[int]:
    return {parse_port(entry)[2] for entry in service.get("ports") or []}


def parse_volume(entry: Any) -> tuple[str, str | None, str]:
    """(kind, source, target) of one service `volumes` entry; kind is bind, volume or anonymous."""
    if isinstance(entry, dict):
        kind = entry.get("type", "volume")
        source = entry.get("source")
        return ("anonymous" if kind == "volume" and not source else kind), source, entry["target"]
    parts = str(entry).split(":")
    if len(parts) == 1:
        return "anonymous", None, parts[0]
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target


def bind_source(source: str, base_dir: Path) -> Path:
    return (base_dir / Path(source).expanduser()).resolve()


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    if test is None:
        return []
    return ["CMD-SHELL", test] if isinstance(test, str) else [str(word) for word in test]


def split_host_port(address: str) -> tuple[str, int | None]:
    """Host and port of `host:port` or of a URL."""
    parsed = urlsplit(address if "://" in address else f"//{address}")
    return parsed.hostname or "", parsed.port


def kafka_listeners(value: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,...` -> {NAME: (host, port)}."""
    result: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        result[name] = (host, int(port))
    return result


# ---------------------------------------------------------------------------------------------------
# Checks on docker-compose.yml: each returns a list of problems
# ---------------------------------------------------------------------------------------------------


def services_problems(compose: Compose, base_dir: Path) -> list[str]:
    names = set(services_of(compose))
    return [f"service {name!r} is missing" for name in sorted(EXPECTED_SERVICES - names)]


def healthcheck_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    for name, service in services_of(compose).items():
        healthcheck = service.get("healthcheck") or {}
        test = healthcheck_test(service)
        if not test or test[0] == "NONE" or healthcheck.get("disable"):
            problems.append(f"{name}: no healthcheck")
            continue
        if test[0] not in {"CMD", "CMD-SHELL"}:
            problems.append(f"{name}: healthcheck test must start with CMD or CMD-SHELL, got {test[0]!r}")
        # A probe of the service's own HTTP port must hit a port the service actually exposes.
        ports = container_ports(service)
        for port in re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)", " ".join(test)):
            if ports and int(port) not in ports:
                problems.append(f"{name}: healthcheck probes port {port}, service exposes {sorted(ports)}")
    return problems


def ports_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    for name, entry in entries_of(compose, "ports"):
        host_ip, host_port, _ = parse_port(entry)
        if host_ip != "127.0.0.1" or not host_port:
            problems.append(f"{name}: port {entry!r} must be published as 127.0.0.1:HOST:CONTAINER")
    return problems


def depends_on_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    services = services_of(compose)
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            problems.append(f"{name}: depends_on must be a mapping with `condition: service_healthy`")
            depends_on = {dependency: {} for dependency in depends_on}
        for dependency, options in depends_on.items():
            condition = (options or {}).get("condition")
            if dependency not in services:
                problems.append(f"{name}: depends on unknown service {dependency!r}")
            elif not healthcheck_test(services[dependency]):
                problems.append(f"{name}: depends on {dependency!r}, which has no healthcheck")
            if condition != "service_healthy":
                problems.append(f"{name}: depends_on {dependency!r} has condition {condition!r}")
        for dependency in sorted(REQUIRED_DEPENDENCIES.get(name, set()) - set(depends_on)):
            problems.append(f"{name}: must depend on {dependency!r} (service_healthy)")
    return problems


def bind_mount_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    for name, entry in entries_of(compose, "volumes"):
        kind, source, target = parse_volume(entry)
        if kind != "bind" or source is None:
            continue
        path = bind_source(source, base_dir)
        if not path.exists():
            # Docker would silently create an empty directory there and the service would break.
            problems.append(f"{name}: bind-mounted {source!r} does not exist ({path})")
        elif Path(target).suffix in {".yml", ".yaml", ".json", ".conf"} and not path.is_file():
            problems.append(f"{name}: {source!r} is mounted as file {target!r} but is not a file")
        elif path != ROOT and ROOT not in path.parents:
            problems.append(f"{name}: {source!r} is outside the repository")
    return problems


def named_volume_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services_of(compose).items():
        kinds = set()
        for entry in service.get("volumes") or []:
            kind, source, target = parse_volume(entry)
            kinds.add(kind)
            if kind == "anonymous":
                problems.append(f"{name}: anonymous volume at {target!r}; use a named volume")
            elif kind == "volume":
                used.add(source)
                if source not in declared:
                    problems.append(f"{name}: volume {source!r} is not declared under top-level `volumes`")
        if name in STATEFUL_SERVICES and "volume" not in kinds:
            problems.append(f"{name}: keeps state but mounts no named volume")
    problems += [f"volume {volume!r} is declared but unused" for volume in sorted(declared - used)]
    return problems


def citywatch_build_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    services = services_of(compose)
    builds = set()
    for name in CITYWATCH_SERVICES:
        build = services.get(name, {}).get("build")
        if build is None:
            problems.append(f"{name}: must be built from the citywatch Dockerfile (`build:`)")
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = bind_source(build.get("context", "."), base_dir)
        dockerfile = (context / build.get("dockerfile", "Dockerfile")).resolve()
        builds.add((context, dockerfile))
        if not dockerfile.is_file():
            problems.append(f"{name}: Dockerfile {dockerfile} does not exist")
        elif dockerfile != DOCKERFILE:
            problems.append(f"{name}: builds from {dockerfile}, not the one image {DOCKERFILE}")
    if len(builds) > 1:
        problems.append(f"citywatch services build from different contexts/Dockerfiles: {sorted(builds)}")
    for name in SERVERS & services.keys():
        if "image" not in services[name]:
            problems.append(f"{name}: server must use an upstream image")
    return problems


def citywatch_command_problems(compose: Compose, base_dir: Path) -> list[str]:
    problems = []
    services = services_of(compose)
    for name, expected in CITYWATCH_SERVICES.items():
        service = services.get(name, {})
        words = command_words(service)
        if "entrypoint" in service:
            problems.append(f"{name}: must keep the image's `citywatch` entrypoint")
        if not words:
            problems.append(f"{name}: no command (would only print citywatch --help)")
        elif words[0] not in CITYWATCH_SUBCOMMANDS:
            problems.append(f"{name}: command {words[0]!r} is not a citywatch subcommand")
        elif words[0] != expected:
            problems.append(f"{name}: runs `citywatch {words[0]}`, expected `citywatch {expected}`")
    return problems


def kafka_problems(compose: Compose, base_dir: Path) -> list[str]:
    kafka = services_of(compose).get("kafka")
    if kafka is None:
        return ["service 'kafka' is missing"]
    problems = []
    env = environment_of(kafka)
    problems += [f"kafka: {key} is not set" for key in KAFKA_REQUIRED_ENV if not env.get(key)]
    if not str(kafka.get("image", "")).startswith("apache/kafka:"):
        problems.append(f"kafka: image {kafka.get('image')!r} is not apache/kafka")
    if set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
        problems.append("kafka: KAFKA_PROCESS_ROLES must be broker,controller (single KRaft node)")
    for key, value in env.items():
        if key.endswith("REPLICATION_FACTOR") and value != "1":
            problems.append(f"kafka: {key}={value}, must be 1 on a single node")
    try:
        listeners = kafka_listeners(env.get("KAFKA_LISTENERS", ""))
        advertised = kafka_listeners(env.get("KAFKA_ADVERTISED_LISTENERS", ""))
        voters = [voter.rpartition(":")[2] for voter in env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(",")]
    except ValueError as error:
        return [*problems, f"kafka: cannot parse listeners: {error}"]
    controller_names = set(filter(None, env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(",")))
    controller_ports = {port for name, (_, port) in listeners.items() if name in controller_names}
    controller_ports |= {int(port) for port in voters if port.isdigit()}
    if not controller_ports:
        problems.append("kafka: no controller listener found")
    for port in sorted(controller_ports & FORBIDDEN_CONTROLLER_PORTS):
        problems.append(f"kafka: controller on port {port}, which belongs to Alertmanager")
    for port in sorted(container_ports(kafka) & FORBIDDEN_CONTROLLER_PORTS):
        problems.append(f"kafka: publishes container port {port}, which belongs to Alertmanager")
    if ("kafka", 9092) not in advertised.values():
        problems.append("kafka: no listener advertised as kafka:9092 for the other containers")
    host_listeners = {name: port for name, (host, port) in advertised.items() if host in {"127.0.0.1", "localhost"}}
    if not host_listeners:
        problems.append("kafka: no host listener advertised on 127.0.0.1")
    published = {(host_port, container) for _, host_port, container in map(parse_port, kafka.get("ports") or [])}
    for listener, port in host_listeners.items():
        # What host clients are told (127.0.0.1:port) must be published onto that listener's container port.
        if listener not in listeners or (str(port), listeners[listener][1]) not in published:
            problems.append(f"kafka: host listener {listener} 127.0.0.1:{port} is not published to its port")
    return problems


def service_address_problems(compose: Compose, base_dir: Path) -> list[str]:
    """CITYWATCH_* addresses point at compose services, and processes listen beyond loopback."""
    problems = []
    services = services_of(compose)
    kafka_advertised = kafka_listeners(environment_of(services.get("kafka", {})).get("KAFKA_ADVERTISED_LISTENERS", ""))
    for name in CITYWATCH_SERVICES:
        env = environment_of(services.get(name, {}))
        if not env.get("CITYWATCH_KAFKA_BOOTSTRAP"):
            problems.append(f"{name}: CITYWATCH_KAFKA_BOOTSTRAP is not set")
        for variable in SERVICE_ADDRESS_VARIABLES:
            if variable not in env:
                continue
            for address in env[variable].split(","):
                host, port = split_host_port(address.strip())
                if host not in services:
                    problems.append(f"{name}: {variable}={env[variable]!r} names no compose service")
                elif variable == "CITYWATCH_KAFKA_BOOTSTRAP" and (host, port) not in kafka_advertised.values():
                    problems.append(f"{name}: {variable}={address!r} is not an advertised Kafka listener")
                elif port is not None and host != "kafka" and port not in container_ports(services[host]):
                    problems.append(f"{name}: {variable} uses port {port}, {host} exposes no such port")
        variable = BIND_HOST_VARIABLES.get(name)
        if variable and env.get(variable) != "0.0.0.0":
            problems.append(f"{name}: {variable} must be 0.0.0.0 inside the container")
    return problems


COMPOSE_CHECKS: dict[str, Callable[[Compose, Path], list[str]]] = {
    "services": services_problems,
    "healthchecks": healthcheck_problems,
    "ports": ports_problems,
    "depends_on": depends_on_problems,
    "bind_mounts": bind_mount_problems,
    "named_volumes": named_volume_problems,
    "citywatch_build": citywatch_build_problems,
    "citywatch_command": citywatch_command_problems,
    "kafka": kafka_problems,
    "service_addresses": service_address_problems,
}


# ---------------------------------------------------------------------------------------------------
# Checks on the mounted configs and the Dockerfile
# ---------------------------------------------------------------------------------------------------


def prometheus_problems(prometheus: dict[str, Any], compose: Compose) -> list[str]:
    problems = []
    services = services_of(compose)
    targets: dict[str, set[str]] = {}
    for job in prometheus.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                targets.setdefault(job["job_name"], set()).add(target)
    scraped = {split_host_port(target) for job_targets in targets.values() for target in job_targets}
    for host, port in sorted(scraped, key=str):
        if host not in services and host != "localhost":
            problems.append(f"prometheus: scrape target host {host!r} is no compose service")
        elif host in services and port not in container_ports(services[host]):
            problems.append(f"prometheus: scrapes {host}:{port}, but {host} exposes {container_ports(services[host])}")
    for name in [*CITYWATCH_SERVICES, "alertmanager"]:
        if name not in {host for host, _ in scraped}:
            problems.append(f"prometheus: {name} is not scraped")
    for job in prometheus.get("scrape_configs") or []:
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _ = split_host_port(target)
                if host not in CITYWATCH_SERVICES:
                    continue
                # The pipeline rules and dashboards select job="citywatch" and tell processes apart by `process`.
                if job["job_name"] != "citywatch":
                    problems.append(f"prometheus: {host} is scraped by job {job['job_name']!r}, not 'citywatch'")
                if (static.get("labels") or {}).get("process") != CITYWATCH_SERVICES[host]:
                    problems.append(f"prometheus: {host} lacks the label process={CITYWATCH_SERVICES[host]}")
    if ("localhost", 9090) not in scraped and ("prometheus", 9090) not in scraped:
        problems.append("prometheus: does not scrape itself")
    alertmanagers = {
        target
        for entry in (prometheus.get("alerting") or {}).get("alertmanagers") or []
        for static in entry.get("static_configs") or []
        for target in static.get("targets") or []
    }
    if "alertmanager:9093" not in alertmanagers:
        problems.append(f"prometheus: alerting goes to {sorted(alertmanagers)}, not alertmanager:9093")
    mounts = [parse_volume(entry) for entry in services.get("prometheus", {}).get("volumes") or []]
    for rule_glob in prometheus.get("rule_files") or []:
        if not any(kind == "bind" and rule_glob.startswith(target.rstrip("/") + "/") for kind, _, target in mounts):
            problems.append(f"prometheus: rule_files {rule_glob!r} is not under a bind-mounted directory")
    return problems


def grafana_problems(datasources: dict[str, Any], providers: dict[str, Any], compose: Compose) -> list[str]:
    problems = []
    services = services_of(compose)
    prometheus_sources = [ds for ds in datasources.get("datasources") or [] if ds.get("type") == "prometheus"]
    if not prometheus_sources:
        problems.append("grafana: no Prometheus datasource provisioned")
    for datasource in prometheus_sources:
        host, port = split_host_port(datasource.get("url", ""))
        if host not in services or port not in container_ports(services[host]):
            problems.append(f"grafana: datasource url {datasource.get('url')!r} is no compose service port")
    mounts = {
        target: bind_source(source, COMPOSE_DIR)
        for kind, source, target in map(parse_volume, services.get("grafana", {}).get("volumes") or [])
        if kind == "bind" and source
    }
    if mounts.get("/etc/grafana/provisioning/datasources") != GRAFANA_DATASOURCE.parent:
        problems.append("grafana: datasources provisioning folder is not mounted")
    if mounts.get("/etc/grafana/provisioning/dashboards") != GRAFANA_DASHBOARDS_PROVIDER.parent:
        problems.append("grafana: dashboards provisioning folder is not mounted")
    file_providers = [p for p in providers.get("providers") or [] if p.get("type", "file") == "file"]
    if not file_providers:
        problems.append("grafana: no file dashboards provider")
    for provider in file_providers:
        path = (provider.get("options") or {}).get("path")
        if mounts.get(path) != ROOT / "dashboards":
            problems.append(f"grafana: dashboards provider reads {path!r}, where ./dashboards is not mounted")
    return problems


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not logical and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        keyword, _, arguments = logical.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        logical = ""
    return instructions


def dockerfile_problems(text: str) -> list[str]:
    problems = []
    instructions = dockerfile_instructions(text)
    stages = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    if not stages:
        return ["Dockerfile: no FROM"]
    final = instructions[stages[-1] :]
    base = final[0][1].split()[0]
    if base != "python:3.11-slim":
        problems.append(f"Dockerfile: final stage is FROM {base}, expected python:3.11-slim")
    if not any(keyword == "RUN" and re.search(r"\bpip install\b", args) for keyword, args in instructions):
        problems.append("Dockerfile: never pip-installs the project")
    entrypoints = [args for keyword, args in final if keyword == "ENTRYPOINT"]
    try:
        entrypoint = json.loads(entrypoints[-1]) if entrypoints else None
    except json.JSONDecodeError:
        entrypoint = entrypoints[-1]
    if entrypoint != ["citywatch"]:
        problems.append(f'Dockerfile: ENTRYPOINT is {entrypoint!r}, expected ["citywatch"] (exec form)')
    users = [args.split(":")[0] for keyword, args in final if keyword == "USER"]
    if not users or users[-1] in {"root", "0"}:
        problems.append("Dockerfile: the final stage must switch to a non-root USER")
    rules_dirs = re.findall(r"CITYWATCH_RULES_DIR=(\S+)", " ".join(args for kw, args in final if kw == "ENV"))
    if not rules_dirs or not rules_dirs[-1].startswith("/"):
        problems.append("Dockerfile: CITYWATCH_RULES_DIR must be set to an absolute path")
    elif not any(
        keyword == "COPY" and args.split()[-1].rstrip("/") == rules_dirs[-1] and " rules" in f" {args}"
        for keyword, args in final
    ):
        problems.append(f"Dockerfile: rules/ is not copied to CITYWATCH_RULES_DIR={rules_dirs[-1]}")
    registry_files = re.findall(r"CITYWATCH_REGISTRY_FILE=(\S+)", " ".join(args for kw, args in final if kw == "ENV"))
    if not registry_files:
        problems.append("Dockerfile: CITYWATCH_REGISTRY_FILE is not set (the default is relative to the source tree)")
    else:
        inside = registry_files[-1]
        copied = [
            args.split()[-1].rstrip("/")
            for keyword, args in final
            if keyword == "COPY" and args.split()[0].rstrip("/") == "registry"
        ]
        name = Path(inside).name
        if not copied or not inside.startswith(copied[-1] + "/") or not (ROOT / "registry" / name).is_file():
            problems.append(
                f"Dockerfile: CITYWATCH_REGISTRY_FILE={inside} is not a file the image copies from registry/"
            )
    return problems


# ---------------------------------------------------------------------------------------------------
# Tests on the shipped files
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Compose:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    loaded = load_yaml(COMPOSE_FILE)
    assert isinstance(loaded, dict), "docker-compose.yml must be a mapping"
    return loaded


@pytest.mark.parametrize("check", COMPOSE_CHECKS)
def test_compose(compose: Compose, check: str) -> None:
    problems = COMPOSE_CHECKS[check](compose, COMPOSE_DIR)
    assert not problems, "docker-compose.yml:\n  " + "\n  ".join(problems)


def test_alertmanager_config_exists() -> None:
    # Mounted by compose, written with the local stack; the bind-mount check covers it too, this names it.
    assert (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").is_file()


def test_prometheus_config(compose: Compose) -> None:
    problems = prometheus_problems(load_yaml(PROMETHEUS_CONFIG), compose)
    assert not problems, "\n".join(problems)


def test_grafana_provisioning(compose: Compose) -> None:
    problems = grafana_problems(load_yaml(GRAFANA_DATASOURCE), load_yaml(GRAFANA_DASHBOARDS_PROVIDER), compose)
    assert not problems, "\n".join(problems)


def test_dockerfile() -> None:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    problems = dockerfile_problems(DOCKERFILE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_dockerignore_keeps_context_small() -> None:
    patterns = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".git", ".venv", ".run"} <= patterns


def test_compose_commands_are_registered_cli_commands(compose: Compose) -> None:
    """Cross-check against the real CLI once the process commands are registered."""
    typer = pytest.importorskip("typer")
    from tools.cli import app

    group = typer.main.get_command(app)
    registered = set(getattr(group, "commands", {}))
    if not registered & CITYWATCH_SUBCOMMANDS:
        pytest.skip(f"no process command registered in the CLI yet (has {sorted(registered)})")
    used = {command_words(services_of(compose)[name])[0] for name in CITYWATCH_SERVICES}
    assert used <= registered, f"compose runs {sorted(used - registered)}, not in `citywatch --help`"


# ---------------------------------------------------------------------------------------------------
# The checks catch breakage: each mutation of a copy must be reported by its check
# ---------------------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Compose], None]:
    """Mutation setting `a.b.c` (list indices as integers) to value; None deletes the key."""

    def mutate(compose: Compose) -> None:
        *parents, leaf = path.split(".")
        node: Any = compose
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(leaf)] = value
        elif value is None:
            del node[leaf]
        else:
            node[leaf] = value

    return mutate


def _env(service: str, key: str, value: str | None) -> Callable[[Compose], None]:
    def mutate(compose: Compose) -> None:
        env = compose["services"][service]["environment"]
        if value is None:
            del env[key]
        else:
            env[key] = value

    return mutate


COMPOSE_MUTATIONS: list[tuple[str, str, Callable[[Compose], None]]] = [
    ("services", "drop-grafana", _set("services.grafana", None)),
    ("services", "drop-worker", _set("services.citywatch-worker", None)),
    ("healthchecks", "no-healthcheck", _set("services.redis.healthcheck", None)),
    ("healthchecks", "healthcheck-none", _set("services.kafka.healthcheck", {"test": ["NONE"]})),
    ("healthchecks", "healthcheck-disabled", _set("services.grafana.healthcheck.disable", True)),
    (
        "healthchecks",
        "healthcheck-wrong-port",
        _set("services.citywatch-alerts.healthcheck.test", ["CMD", "wget", "http://127.0.0.1:9999/healthz"]),
    ),
    ("ports", "all-interfaces", _set("services.grafana.ports", ["3000:3000"])),
    ("ports", "public-ip", _set("services.redis.ports", ["0.0.0.0:6379:6379"])),
    ("ports", "ephemeral", _set("services.redis.ports", ["6379"])),
    ("ports", "long-syntax-no-ip", _set("services.redis.ports", [{"target": 6379, "published": 6379}])),
    (
        "depends_on",
        "started-not-healthy",
        _set("services.citywatch-alerts.depends_on.redis.condition", "service_started"),
    ),
    ("depends_on", "list-form", _set("services.citywatch-ingest.depends_on", ["kafka"])),
    ("depends_on", "missing-kafka", _set("services.citywatch-worker.depends_on", {})),
    ("depends_on", "unknown", _set("services.citywatch-simulator.depends_on.nope", {"condition": "service_healthy"})),
    (
        "bind_mounts",
        "missing-file",
        _set("services.alertmanager.volumes.0", "./deploy/alertmanager/nope.yml:/etc/alertmanager/alertmanager.yml:ro"),
    ),
    ("bind_mounts", "dir-as-file", _set("services.prometheus.volumes.0", "./deploy:/etc/prometheus/prometheus.yml:ro")),
    ("bind_mounts", "outside-repo", _set("services.prometheus.volumes.1", "/etc:/etc/prometheus/rules:ro")),
    ("named_volumes", "undeclared", _set("volumes.redis-data", None)),
    ("named_volumes", "anonymous", _set("services.redis.volumes", ["/data"])),
    ("named_volumes", "stateless-worker", _set("services.citywatch-worker.volumes", None)),
    ("citywatch_build", "other-dockerfile", _set("services.citywatch-alerts.build", {"context": "deploy"})),
    ("citywatch_build", "prebuilt-image", _set("services.citywatch-worker.build", None)),
    ("citywatch_command", "bad-subcommand", _set("services.citywatch-worker.command", ["work"])),
    ("citywatch_command", "swapped", _set("services.citywatch-ingest.command", "alerts")),
    ("citywatch_command", "no-command", _set("services.citywatch-simulator.command", None)),
    ("citywatch_command", "entrypoint-override", _set("services.citywatch-ingest.entrypoint", ["python"])),
    (
        "kafka",
        "controller-9093",
        _env("kafka", "KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:29092"),
    ),
    ("kafka", "voters-9093", _env("kafka", "KAFKA_CONTROLLER_QUORUM_VOTERS", "1@kafka:9093")),
    ("kafka", "no-cluster-id", _env("kafka", "CLUSTER_ID", None)),
    ("kafka", "replication-3", _env("kafka", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3")),
    ("kafka", "no-internal-listener", _env("kafka", "KAFKA_ADVERTISED_LISTENERS", "HOST://127.0.0.1:9092")),
    ("kafka", "host-port-unpublished", _set("services.kafka.ports", ["127.0.0.1:9092:9092"])),
    ("kafka", "broker-only", _env("kafka", "KAFKA_PROCESS_ROLES", "broker")),
    (
        "service_addresses",
        "bootstrap-loopback",
        _env("citywatch-ingest", "CITYWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
    ),
    ("service_addresses", "unknown-host", _env("citywatch-simulator", "CITYWATCH_INGEST_URL", "http://ingest:8000")),
    (
        "service_addresses",
        "wrong-port",
        _env("citywatch-alerts", "CITYWATCH_ALERTMANAGER_URL", "http://alertmanager:9094"),
    ),
    ("service_addresses", "bound-loopback", _env("citywatch-ingest", "CITYWATCH_INGEST_HOST", "127.0.0.1")),
]


@pytest.mark.parametrize(
    ("check", "mutate"),
    [pytest.param(check, mutate, id=f"{check}-{name}") for check, name, mutate in COMPOSE_MUTATIONS],
)
def test_check_catches_mutation(compose: Compose, check: str, mutate: Callable[[Compose], None]) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert COMPOSE_CHECKS[check](broken, COMPOSE_DIR), f"check {check!r} missed the mutation"


def test_every_compose_check_has_a_mutation() -> None:
    assert {check for check, _, _ in COMPOSE_MUTATIONS} == set(COMPOSE_CHECKS)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_set("scrape_configs", []), id="no-scrapes"),
        pytest.param(_set("scrape_configs.2.static_configs.0.targets", ["ingest:8000"]), id="unknown-host"),
        pytest.param(_set("scrape_configs.2.static_configs.1.targets", ["citywatch-worker:9999"]), id="wrong-port"),
        pytest.param(_set("scrape_configs.2.job_name", "citywatch-apps"), id="job-not-citywatch"),
        pytest.param(_set("scrape_configs.2.static_configs.1.labels", {}), id="no-process-label"),
        pytest.param(_set("alerting", None), id="no-alerting"),
        pytest.param(_set("rule_files", ["/etc/prometheus/other/*.yml"]), id="rules-unmounted"),
    ],
)
def test_prometheus_check_catches_mutation(compose: Compose, mutate: Callable[[Compose], None]) -> None:
    broken = copy.deepcopy(load_yaml(PROMETHEUS_CONFIG))
    mutate(broken)
    assert prometheus_problems(broken, compose)


@pytest.mark.parametrize(
    ("target", "mutate"),
    [
        pytest.param("datasources", _set("datasources.0.url", "http://localhost:9090"), id="datasource-loopback"),
        pytest.param("datasources", _set("datasources", []), id="no-datasource"),
        pytest.param("providers", _set("providers.0.options.path", "/dashboards"), id="provider-path"),
        pytest.param("compose", _set("services.grafana.volumes", ["grafana-data:/var/lib/grafana"]), id="unmounted"),
    ],
)
def test_grafana_check_catches_mutation(compose: Compose, target: str, mutate: Callable[[Compose], None]) -> None:
    documents = {
        "datasources": copy.deepcopy(load_yaml(GRAFANA_DATASOURCE)),
        "providers": copy.deepcopy(load_yaml(GRAFANA_DASHBOARDS_PROVIDER)),
        "compose": copy.deepcopy(compose),
    }
    mutate(documents[target])
    assert grafana_problems(documents["datasources"], documents["providers"], documents["compose"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('ENTRYPOINT ["citywatch"]', 'ENTRYPOINT ["python"]', id="entrypoint"),
        pytest.param('ENTRYPOINT ["citywatch"]', "ENTRYPOINT citywatch", id="entrypoint-shell-form"),
        pytest.param("USER citywatch", "USER root", id="root"),
        pytest.param("USER citywatch", "", id="no-user"),
        pytest.param("FROM python:3.11-slim\n", "FROM python:3.12\n", id="base"),
        pytest.param("COPY rules ", "COPY docs ", id="rules-not-copied"),
        pytest.param("CITYWATCH_RULES_DIR=/", "CITYWATCH_RULES_DIR=", id="rules-relative"),
        pytest.param("COPY registry ", "COPY docs ", id="registry-not-copied"),
        pytest.param("CITYWATCH_REGISTRY_FILE=/opt/citywatch/registry/wujiang-sample.yaml", "A=b", id="no-registry"),
    ],
)
def test_dockerfile_check_catches_mutation(old: str, new: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert old in text, f"mutation anchor {old!r} not in Dockerfile: update the test"
    assert dockerfile_problems(text.replace(old, new))
