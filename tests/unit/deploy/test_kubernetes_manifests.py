"""Structure and cross-references of deploy/kubernetes/ (no cluster here: the manifests are only parsed).

Each rule is a `*_problems(manifests)` function returning human-readable problems (empty = fine); the shipped files
must have none, and `test_check_catches_mutation` proves each rule fails on a deliberately broken copy.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from citywatch.settings import AlertSettings, IngestSettings, WorkerSettings
from citywatch.site_registry import load_registry
from citywatch.topics import Topics
from services.kafka_grants import ALERTS_USER, GATEWAY_USER, REPORT_USER, WORKER_USER
from services.topic_admin import topic_configs
from tools.manifests.kubernetes import (
    REGISTRY_CONFIGMAP,
    REGISTRY_KEY,
    STRIMZI_API,
    Deployment,
    leader_topic,
    render,
    resource_name,
    stale_files,
)

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "kubernetes"
REGISTRY = Path("registry/wujiang-sample.yaml")
NAMESPACE = "citywatch"

# `citywatch <subcommand>` -> its settings class, the settings field of its HTTP/metrics port, its Kafka user.
PROCESSES: dict[str, tuple[type[BaseSettings], str, str]] = {
    "worker": (WorkerSettings, "worker_web_port", WORKER_USER),
    "ingest": (IngestSettings, "ingest_port", GATEWAY_USER),
    "alerts": (AlertSettings, "alerts_port", ALERTS_USER),
}
Manifests = dict[str, list[dict[str, Any]]]  # file name -> its documents


def load_manifests() -> Manifests:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        for path in sorted(K8S.glob("*.yaml"))
    }


def docs(manifests: Manifests, kind: str | None = None) -> Iterator[dict[str, Any]]:
    for name, documents in manifests.items():
        if name == "kustomization.yaml":
            continue
        for d in documents:
            if kind is None or d.get("kind") == kind:
                yield d


def named(manifests: Manifests, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs(manifests, kind)}


def workloads(manifests: Manifests) -> Iterator[dict[str, Any]]:
    for kind in ("Deployment", "StatefulSet"):
        yield from docs(manifests, kind)


def citywatch_containers(manifests: Manifests) -> Iterator[tuple[dict[str, Any], dict[str, Any], str]]:
    """(workload, container, subcommand) for every container running `citywatch <subcommand>`."""
    for w in workloads(manifests):
        for c in w["spec"]["template"]["spec"]["containers"]:
            if c.get("image") == "citywatch":
                yield w, c, c["args"][0]


def environment(manifests: Manifests, container: dict[str, Any]) -> dict[str, str]:
    """The container's environment: its envFrom ConfigMaps, then its own env (which wins)."""
    configmaps = named(manifests, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps.get(source["configMapRef"]["name"], {}).get("data", {}))
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


def the_kafka(manifests: Manifests) -> dict[str, Any]:
    (kafka,) = docs(manifests, "Kafka")
    return kafka


def deployment_of(manifests: Manifests) -> Deployment:
    """The Deployment the generated files must follow: names from the settings as the pods set them."""
    worker_env: dict[str, str] = {}
    alerts_env: dict[str, str] = {}
    for _, container, command in citywatch_containers(manifests):
        if command == "worker":
            worker_env = environment(manifests, container)
        if command == "alerts":
            alerts_env = environment(manifests, container)
    defaults = WorkerSettings.model_fields
    return Deployment(
        topic_prefix=worker_env.get("CITYWATCH_TOPIC_PREFIX", defaults["topic_prefix"].default),
        worker_app_id=worker_env.get("CITYWATCH_WORKER_APP_ID", defaults["worker_app_id"].default),
        alerts_group_id=alerts_env.get(
            "CITYWATCH_ALERTS_GROUP_ID", AlertSettings.model_fields["alerts_group_id"].default
        ),
        partitions=int(worker_env.get("CITYWATCH_TOPIC_PARTITIONS", defaults["topic_partitions"].default)),
    )


# --- rules ------------------------------------------------------------------------------------------------------------


def kustomization_problems(manifests: Manifests) -> list[str]:
    (kustomization,) = manifests["kustomization.yaml"]
    listed = set(kustomization.get("resources", []))
    present = set(manifests) - {"kustomization.yaml"}
    problems = [f"{name} is not listed in kustomization.yaml" for name in sorted(present - listed)]
    problems += [f"kustomization.yaml lists missing {name}" for name in sorted(listed - present)]
    if kustomization.get("namespace") != NAMESPACE:
        problems.append(f"kustomization namespace is {kustomization.get('namespace')!r}, not {NAMESPACE!r}")
    seen: set[tuple[str, str]] = set()
    for d in docs(manifests):
        if not {"apiVersion", "kind", "metadata"} <= d.keys() or "name" not in d["metadata"]:
            problems.append(f"a document lacks apiVersion, kind or metadata.name: {str(d)[:80]}")
            continue
        key = (d["kind"], d["metadata"]["name"])
        if key in seen:
            problems.append(f"{key} is defined twice")
        seen.add(key)
        if d["kind"].startswith("Kafka") and d["apiVersion"] != STRIMZI_API:
            problems.append(f"{key}: apiVersion {d['apiVersion']}, not {STRIMZI_API}")
    return problems


def generated_problems(manifests: Manifests) -> list[str]:
    rendered = render(deployment_of(manifests), load_registry(ROOT / REGISTRY), REGISTRY)
    problems = []
    for name, text in rendered.items():
        if name not in manifests:
            problems.append(f"{name} is missing (run `citywatch deploy kubernetes`)")
        elif manifests[name] != [d for d in yaml.safe_load_all(text) if d is not None]:
            problems.append(f"{name} differs from what `citywatch deploy kubernetes` generates")
    return problems


def kafka_cluster_problems(manifests: Manifests) -> list[str]:
    kafka = the_kafka(manifests)
    cluster = kafka["metadata"]["name"]
    spec = kafka["spec"]["kafka"]
    problems = []
    pools = [
        p for p in docs(manifests, "KafkaNodePool") if p["metadata"]["labels"].get("strimzi.io/cluster") == cluster
    ]
    if not pools:
        problems.append("no KafkaNodePool of the cluster")
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    if brokers < 3 or controllers < 3 or controllers % 2 == 0:
        problems.append(f"KRaft needs 3 brokers and an odd quorum of ≥ 3 controllers: {brokers} / {controllers}")
    if "zookeeper" in kafka["spec"] or "replicas" in spec or "storage" in spec:
        problems.append("nodes are defined in KafkaNodePools only (KRaft), not in the Kafka resource")
    config = spec.get("config", {})
    wanted = {
        "default.replication.factor": 3,
        "min.insync.replicas": 2,
        "offsets.topic.replication.factor": 3,
        "transaction.state.log.replication.factor": 3,
        "transaction.state.log.min.isr": 2,
        "auto.create.topics.enable": False,
    }
    problems += [f"Kafka config {k} is {config.get(k)!r}, not {v!r}" for k, v in wanted.items() if config.get(k) != v]
    if spec.get("authorization", {}).get("type") != "simple":
        problems.append("Kafka authorization is not `simple` (ACLs)")
    if spec.get("authorization", {}).get("superUsers"):
        problems.append("no super users: every principal gets its ACLs")
    for listener in spec["listeners"]:
        if listener.get("authentication", {}).get("type") != "scram-sha-512" or listener.get("tls") is not True:
            problems.append(f"listener {listener['name']} is not SCRAM-SHA-512 over TLS")
    operators = kafka["spec"].get("entityOperator", {})
    if "topicOperator" not in operators or "userOperator" not in operators:
        problems.append("the entity operator must run the topic and user operators (KafkaTopic, KafkaUser)")
    return problems


def topic_problems(manifests: Manifests) -> list[str]:
    deployment = deployment_of(manifests)
    topics = Topics(deployment.topic_prefix)
    cluster = the_kafka(manifests)["metadata"]["name"]
    expected = topic_configs(topics, load_registry(ROOT / REGISTRY).feeds_by_department(), deployment.worker_app_id)
    expected[leader_topic(deployment.worker_app_id)] = {}
    present = {d["spec"]["topicName"]: d for d in docs(manifests, "KafkaTopic")}
    problems = [f"no KafkaTopic for {t}" for t in sorted(expected.keys() - present.keys())]
    problems += [f"KafkaTopic {t} is not a citywatch topic" for t in sorted(present.keys() - expected.keys())]
    for must in [topics.indicators, topics.rule_evaluations, topics.alerts, topics.dead_letter]:
        if must not in present:
            problems.append(f"topic {must} of citywatch/topics.py is missing")
    for name, d in present.items():
        spec = d["spec"]
        if d["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"KafkaTopic {name} is not labelled for cluster {cluster}")
        if d["metadata"]["name"] != resource_name(name):
            problems.append(f"KafkaTopic {name} is named {d['metadata']['name']}")
        if spec.get("replicas") != 3:
            problems.append(f"KafkaTopic {name} has {spec.get('replicas')} replicas, not 3")
        if name in expected and spec.get("config", {}) != expected[name]:
            problems.append(f"KafkaTopic {name} config {spec.get('config')} != services/topics.py {expected[name]}")
        want_partitions = 1 if name == leader_topic(deployment.worker_app_id) else deployment.partitions
        if spec.get("partitions") != want_partitions:
            problems.append(f"KafkaTopic {name} has {spec.get('partitions')} partitions, not {want_partitions}")
    return problems


def _acl_set(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {
        (a["resource"]["type"], a["resource"].get("name", ""), a["resource"].get("patternType", "literal"), op)
        for a in user["spec"]["authorization"]["acls"]
        for op in a["operations"]
    }


def user_problems(manifests: Manifests) -> list[str]:
    deployment = deployment_of(manifests)
    topics = Topics(deployment.topic_prefix)
    registry = load_registry(ROOT / REGISTRY)
    cluster = the_kafka(manifests)["metadata"]["name"]
    users = named(manifests, "KafkaUser")
    topic_names = {d["spec"]["topicName"] for d in docs(manifests, "KafkaTopic")}
    problems = []
    for department in registry.departments:
        user = users.get(department.id)
        if user is None:
            problems.append(f"department {department.id} has no KafkaUser")
            continue
        own = {
            ("topic", topics.feed(feed, department.id), "literal", op)
            for feed in department.feeds
            for op in ("Write", "Describe")
        }
        if _acl_set(user) != own:
            problems.append(f"department {department.id}'s ACLs are not exactly WRITE+DESCRIBE on its own feed topics")
    known = {d.id for d in registry.departments} | {WORKER_USER, GATEWAY_USER, ALERTS_USER, REPORT_USER}
    problems += [f"KafkaUser {name} is neither a department nor a citywatch process" for name in users.keys() - known]
    for name, user in users.items():
        if user["metadata"].get("labels", {}).get("strimzi.io/cluster") != cluster:
            problems.append(f"KafkaUser {name} is not labelled for cluster {cluster}")
        if user["spec"].get("authentication", {}).get("type") != "scram-sha-512":
            problems.append(f"KafkaUser {name} does not authenticate with SCRAM-SHA-512")
        for kind, resource, pattern, op in _acl_set(user):
            if kind == "topic" and pattern == "literal" and resource not in topic_names:
                problems.append(f"KafkaUser {name} has an ACL on {resource}, which no KafkaTopic declares")
            if kind == "topic" and pattern == "prefix" and not any(t.startswith(resource) for t in topic_names):
                problems.append(f"KafkaUser {name} has a prefix ACL {resource} matching no topic")
            # The idempotent producers (aiokafka) need IdempotentWrite on the cluster, nothing else there.
            if kind == "cluster" and op != "IdempotentWrite":
                problems.append(f"KafkaUser {name} has a cluster ACL ({op}): citywatch needs only IdempotentWrite")
            if kind not in ("topic", "group", "cluster"):
                problems.append(f"KafkaUser {name} has a {kind} ACL ({op}): citywatch needs none")
    groups = {
        WORKER_USER: deployment.worker_app_id,
        ALERTS_USER: deployment.alerts_group_id,
    }
    for name, group in groups.items():
        if name in users and ("group", group, "literal", "Read") not in _acl_set(users[name]):
            problems.append(f"KafkaUser {name} may not read its consumer group {group}")
    return problems


def settings_problems(manifests: Manifests) -> list[str]:
    problems = []
    for workload, container, command in citywatch_containers(manifests):
        where = f"{workload['metadata']['name']}/{container['name']}"
        if command not in PROCESSES:
            problems.append(f"{where} runs `citywatch {command}`, which this test does not know")
            continue
        settings_class, _, _ = PROCESSES[command]
        env = environment(manifests, container)
        fields = {f"CITYWATCH_{name.upper()}" for name in settings_class.model_fields}
        problems += [
            f"{where}: {name} is not a {settings_class.__name__} setting" for name in sorted(env.keys() - fields)
        ]
        try:
            settings_class(**{k.removeprefix("CITYWATCH_").lower(): v for k, v in env.items() if k in fields})
        except ValidationError as exc:
            problems.append(f"{where}: invalid settings: {exc}")
    return problems


def port_problems(manifests: Manifests) -> list[str]:
    (configmap,) = [c for c in docs(manifests, "ConfigMap") if "prometheus.yml" in c.get("data", {})]
    scrape = yaml.safe_load(configmap["data"]["prometheus.yml"])
    keeps: set[str] = set()
    for job in scrape["scrape_configs"]:
        for relabel in job.get("relabel_configs", []):
            if relabel.get("action") == "keep":
                keeps |= set(relabel["regex"].split("|"))
    problems = []
    for workload, container, command in citywatch_containers(manifests):
        where = f"{workload['metadata']['name']}/{container['name']}"
        settings_class, port_field, _ = PROCESSES[command]
        default = settings_class.model_fields[port_field].default
        env = environment(manifests, container)
        configured = int(env.get(f"CITYWATCH_{port_field.upper()}", default))
        ports = [p["containerPort"] for p in container.get("ports", [])]
        if ports != [default] or configured != default:
            problems.append(f"{where}: container ports {ports}, setting {configured}, default {default} differ")
        label = workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        if f"{label};{default}" not in keeps:
            problems.append(f"{where}: the scrape config does not keep {label};{default}")
    return problems


def reference_problems(manifests: Manifests) -> list[str]:
    kafka = the_kafka(manifests)
    cluster = kafka["metadata"]["name"]
    configmaps = named(manifests, "ConfigMap")
    services = named(manifests, "Service")
    # Strimzi creates a Secret per KafkaUser (named like it) and the cluster CA certificate.
    secrets = set(named(manifests, "KafkaUser")) | {f"{cluster}-cluster-ca-cert"}
    # ... and the bootstrap Service of every listener.
    service_ports = {name: {p["port"] for p in s["spec"]["ports"]} for name, s in services.items()}
    service_ports[f"{cluster}-kafka-bootstrap"] = {
        listener["port"] for listener in kafka["spec"]["kafka"]["listeners"] if listener["type"] == "internal"
    }
    problems = []
    for w in workloads(manifests):
        pod = w["spec"]["template"]["spec"]
        name = w["metadata"]["name"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        if w["spec"]["selector"]["matchLabels"].items() - labels.items():
            problems.append(f"{name}: selector does not match its pod labels")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in w["spec"].get("volumeClaimTemplates", [])}
        for v in volumes.values():
            if "configMap" in v and v["configMap"]["name"] not in configmaps:
                problems.append(f"{name}: volume {v['name']} uses missing ConfigMap {v['configMap']['name']}")
            if "secret" in v and v["secret"]["secretName"] not in secrets:
                problems.append(
                    f"{name}: volume {v['name']} uses Secret {v['secret']['secretName']}, which nothing makes"
                )
            if "persistentVolumeClaim" in v:
                problems.append(f"{name}: use volumeClaimTemplates, not a shared claim")
        if w["kind"] == "StatefulSet" and w["spec"]["serviceName"] not in services:
            problems.append(f"{name}: its serviceName {w['spec']['serviceName']} is no Service")
        for c in pod["containers"]:
            for source in c.get("envFrom", []):
                if source["configMapRef"]["name"] not in configmaps:
                    problems.append(f"{name}: envFrom missing ConfigMap {source['configMapRef']['name']}")
            for mount in c.get("volumeMounts", []):
                if mount["name"] not in volumes and mount["name"] not in claims:
                    problems.append(f"{name}: volumeMount {mount['name']} has no volume or claim template")
            port_names = {p.get("name") for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in port_names:
                    problems.append(f"{name}: {probe} uses unknown port {port}")
            if c.get("image") == "citywatch":
                problems += _citywatch_env_references(name, c, environment(manifests, c), service_ports, volumes)
    for service_name, service in services.items():
        selector = service["spec"].get("selector")
        if service["spec"].get("type") == "ExternalName":
            continue
        pods = [
            w for w in workloads(manifests) if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        if not pods:
            problems.append(f"Service {service_name} selects no pods")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort")
            names = {
                p.get("name")
                for w in pods
                for c in w["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", [])
            }
            if isinstance(target, str) and target not in names:
                problems.append(f"Service {service_name} targets unknown port {target}")
    return problems


def _citywatch_env_references(
    name: str,
    container: dict[str, Any],
    env: dict[str, str],
    service_ports: dict[str, set[int]],
    volumes: dict[str, dict[str, Any]],
) -> list[str]:
    problems = []
    targets = [("CITYWATCH_KAFKA_BOOTSTRAP", h) for h in env.get("CITYWATCH_KAFKA_BOOTSTRAP", "").split(",") if h]
    for variable in ("CITYWATCH_REDIS_URL", "CITYWATCH_ALERTMANAGER_URL"):
        if env.get(variable):
            netloc = urlsplit(env[variable]).netloc
            targets.append((variable, netloc))
    for variable, hostport in targets:
        host, _, port = hostport.partition(":")
        if host not in service_ports or int(port) not in service_ports[host]:
            problems.append(f"{name}: {variable} names {hostport}, which no Service serves")
    registry_file = env.get("CITYWATCH_REGISTRY_FILE")
    if registry_file and container["args"][0] in ("worker", "ingest"):
        mounted = {
            f"{m['mountPath']}/{REGISTRY_KEY}"
            for m in container.get("volumeMounts", [])
            if volumes.get(m["name"], {}).get("configMap", {}).get("name") == REGISTRY_CONFIGMAP
        }
        if registry_file not in mounted:
            problems.append(f"{name}: CITYWATCH_REGISTRY_FILE {registry_file} is not the mounted registry ConfigMap")
    return problems


def worker_problems(manifests: Manifests) -> list[str]:
    problems = []
    (worker,) = [w for w, _, command in citywatch_containers(manifests) if command == "worker"]
    container = next(c for c in worker["spec"]["template"]["spec"]["containers"] if c["args"] == ["worker"])
    env = environment(manifests, container)
    if worker["kind"] != "StatefulSet":
        problems.append("the worker must be a StatefulSet (a data dir per pod)")
    claims = {c["metadata"]["name"] for c in worker["spec"].get("volumeClaimTemplates", [])}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    data_dir = env.get("CITYWATCH_WORKER_DATA_DIR", "")
    if mounts.get(data_dir) not in claims:
        problems.append(f"the worker's data dir {data_dir!r} is not on a volumeClaimTemplate")
    if not env.get("CITYWATCH_WORKER_STORE", "").startswith("rocksdb"):
        problems.append("the worker's tables should live in RocksDB on its volume")
    if env.get("CITYWATCH_WORKER_WEB_HOST") != "0.0.0.0":
        problems.append("the worker's web server must listen on all interfaces to be scraped")
    if worker["spec"]["replicas"] > deployment_of(manifests).partitions:
        problems.append("more workers than partitions: the extra ones would idle")
    for _, c, command in citywatch_containers(manifests):
        host_variable = {"ingest": "CITYWATCH_INGEST_HOST", "alerts": "CITYWATCH_ALERTS_HOST"}.get(command)
        if host_variable and environment(manifests, c).get(host_variable) != "0.0.0.0":
            problems.append(f"{command} must listen on all interfaces ({host_variable})")
    return problems


def redis_problems(manifests: Manifests) -> list[str]:
    problems = []
    redis = named(manifests, "StatefulSet").get("redis")
    if redis is None:
        return ["no Redis StatefulSet"]
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    args = " ".join(container.get("args", []))
    if "--appendonly yes" not in args:
        problems.append("Redis must run with AOF (--appendonly yes)")
    data_dir = re.search(r"--dir (\S+)", args)
    claims = {c["metadata"]["name"] for c in redis["spec"].get("volumeClaimTemplates", [])}
    mounted = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    if data_dir is None or mounted.get(data_dir.group(1)) not in claims:
        problems.append("Redis's --dir must be on its volumeClaimTemplate")
    policy = named(manifests, "NetworkPolicy").get("redis-clients")
    if policy is not None:
        allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        for w, c, _ in citywatch_containers(manifests):
            if "CITYWATCH_REDIS_URL" in environment(manifests, c) and c["args"][0] in ("ingest", "alerts"):
                labels = w["spec"]["template"]["metadata"]["labels"]
                if allowed.items() - labels.items():
                    problems.append(f"{w['metadata']['name']} uses Redis but the NetworkPolicy does not let it in")
    return problems


RULES: list[Callable[[Manifests], list[str]]] = [
    kustomization_problems,
    generated_problems,
    kafka_cluster_problems,
    topic_problems,
    user_problems,
    settings_problems,
    port_problems,
    reference_problems,
    worker_problems,
    redis_problems,
]


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load_manifests()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_shipped_manifests(manifests: Manifests, rule: Callable[[Manifests], list[str]]) -> None:
    assert rule(manifests) == []


def _find(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    return named(manifests, kind)[name]


def _container(manifests: Manifests, kind: str, name: str) -> dict[str, Any]:
    return _find(manifests, kind, name)["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def _drop_kustomization_entry(m: Manifests) -> None:
    m["kustomization.yaml"][0]["resources"].remove("redis.yaml")


def _edit_generated(m: Manifests) -> None:
    m["kafka-topics.yaml"][0]["spec"]["config"] = {"cleanup.policy": "delete"}


def _min_isr_one(m: Manifests) -> None:
    the_kafka(m)["spec"]["kafka"]["config"]["min.insync.replicas"] = 1


def _plain_listener(m: Manifests) -> None:
    the_kafka(m)["spec"]["kafka"]["listeners"].append({"name": "plain", "port": 9092, "type": "internal", "tls": False})


def _topic_two_replicas(m: Manifests) -> None:
    _find(m, "KafkaTopic", "citywatch.indicators")["spec"]["replicas"] = 2


def _department_reads(m: Manifests) -> None:
    _find(m, "KafkaUser", "transport")["spec"]["authorization"]["acls"][0]["operations"].append("Read")


def _department_writes_other(m: Manifests) -> None:
    _find(m, "KafkaUser", "transport")["spec"]["authorization"]["acls"].append(
        {
            "resource": {"type": "topic", "name": "citywatch.feed.air.environment", "patternType": "literal"},
            "operations": ["Write"],
            "host": "*",
        }
    )


def _unknown_env(m: Manifests) -> None:
    _container(m, "StatefulSet", "citywatch-worker")["env"].append({"name": "CITYWATCH_WORKER_THREADS", "value": "4"})


def _bad_env_value(m: Manifests) -> None:
    env = _container(m, "Deployment", "citywatch-ingest")["env"]
    env.append({"name": "CITYWATCH_MAX_BATCH_RECORDS", "value": "many"})


def _wrong_port(m: Manifests) -> None:
    _container(m, "Deployment", "citywatch-alerts")["ports"][0]["containerPort"] = 8011


def _unscraped(m: Manifests) -> None:
    _find(m, "StatefulSet", "citywatch-worker")["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = (
        "w"
    )


def _missing_secret(m: Manifests) -> None:
    volumes = _find(m, "Deployment", "citywatch-alerts")["spec"]["template"]["spec"]["volumes"]
    next(v for v in volumes if "secret" in v)["secret"]["secretName"] = "citywatch-alert"


def _missing_configmap(m: Manifests) -> None:
    _container(m, "Deployment", "citywatch-ingest")["envFrom"][0]["configMapRef"]["name"] = "citywatch-env"


def _redis_url_elsewhere(m: Manifests) -> None:
    _find(m, "ConfigMap", "citywatch-common")["data"]["CITYWATCH_REDIS_URL"] = "redis://redis-master:6379/0"


def _bootstrap_wrong_port(m: Manifests) -> None:
    _find(m, "ConfigMap", "citywatch-common")["data"]["CITYWATCH_KAFKA_BOOTSTRAP"] = "citywatch-kafka-bootstrap:9092"


def _worker_without_claim(m: Manifests) -> None:
    _find(m, "StatefulSet", "citywatch-worker")["spec"]["volumeClaimTemplates"] = []


def _worker_partitions(m: Manifests) -> None:
    env = _container(m, "StatefulSet", "citywatch-worker")["env"]
    next(e for e in env if e["name"] == "CITYWATCH_TOPIC_PARTITIONS")["value"] = "6"


def _redis_without_aof(m: Manifests) -> None:
    _container(m, "StatefulSet", "redis")["args"] = ["redis-server"]


MUTATIONS: list[tuple[Callable[[Manifests], None], Callable[[Manifests], list[str]]]] = [
    (_drop_kustomization_entry, kustomization_problems),
    (_edit_generated, generated_problems),
    (_min_isr_one, kafka_cluster_problems),
    (_plain_listener, kafka_cluster_problems),
    (_topic_two_replicas, topic_problems),
    (_department_reads, user_problems),
    (_department_writes_other, user_problems),
    (_unknown_env, settings_problems),
    (_bad_env_value, settings_problems),
    (_wrong_port, port_problems),
    (_unscraped, port_problems),
    (_missing_secret, reference_problems),
    (_missing_configmap, reference_problems),
    (_redis_url_elsewhere, reference_problems),
    (_bootstrap_wrong_port, reference_problems),
    (_worker_without_claim, worker_problems),
    (_worker_partitions, topic_problems),
    (_redis_without_aof, redis_problems),
]


@pytest.mark.parametrize(("mutate", "rule"), MUTATIONS, ids=lambda f: f.__name__)
def test_check_catches_mutation(
    manifests: Manifests, mutate: Callable[[Manifests], None], rule: Callable[[Manifests], list[str]]
) -> None:
    broken = copy.deepcopy(manifests)
    mutate(broken)
    assert rule(broken) != []


def test_every_department_feed_has_a_topic_and_only_its_department_writes_it(manifests: Manifests) -> None:
    registry = load_registry(ROOT / REGISTRY)
    topics = Topics(deployment_of(manifests).topic_prefix)
    writers: dict[str, set[str]] = {}
    for name, user in named(manifests, "KafkaUser").items():
        for kind, resource, _, op in _acl_set(user):
            if kind == "topic" and op == "Write" and resource.startswith(f"{topics.prefix}.feed."):
                writers.setdefault(resource, set()).add(name)
    for department in registry.departments:
        for feed in department.feeds:
            assert writers[topics.feed(feed, department.id)] == {department.id, GATEWAY_USER}


def test_resource_names_are_valid_and_distinct() -> None:
    assert resource_name("citywatch.feed.mode_share.transport") == "citywatch.feed.mode-share.transport"
    assert resource_name("citywatch-worker-__assignor-__leader") == "citywatch-worker---assignor---leader"
    with pytest.raises(ValueError):
        resource_name("___")


def test_generated_files_are_committed_verbatim(manifests: Manifests) -> None:
    rendered = render(deployment_of(manifests), load_registry(ROOT / REGISTRY), REGISTRY)
    assert stale_files(K8S, rendered) == [], "run `citywatch deploy kubernetes --out deploy/kubernetes`"


def test_cli_writes_and_checks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tools.cli import app

    runner = CliRunner()
    args = ["deploy", "kubernetes", "--out", str(tmp_path), "--registry", str(ROOT / REGISTRY)]
    assert runner.invoke(app, [*args, "--check"]).exit_code == 1  # nothing written yet
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    (tmp_path / "kafka-users.yaml").write_text("# edited by hand\n", encoding="utf-8")
    result = runner.invoke(app, [*args, "--check"])
    assert result.exit_code == 1 and "kafka-users.yaml" in result.output


def test_the_worker_port_is_metrics_and_health_only(manifests: Manifests) -> None:
    (worker, container) = next((w, c) for w, c, command in citywatch_containers(manifests) if command == "worker")
    assert [p["containerPort"] for p in container["ports"]] == [6066]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "CITYWATCH_WORKER_ADMIN_TOKEN" not in environment(manifests, container)  # POST /rules/reload is off
    policy = named(manifests, "NetworkPolicy")["citywatch-worker-port"]
    assert policy["spec"]["podSelector"]["matchLabels"] == worker["spec"]["selector"]["matchLabels"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 6066}]
    assert all(source["podSelector"]["matchLabels"] for source in rule["from"])  # never "everyone"
