"""Departments publishing straight to Kafka: SCRAM users and ACLs, so the broker refuses what a department may not write.

Each department gets a SASL/SCRAM-SHA-512 user on the broker's DEPARTMENTS listener and, for each of its feeds, an ACL
allowing WRITE and DESCRIBE on exactly one topic, `Topics.feed(feed, department)` (a LITERAL name, never a prefix).
Nothing else is allowed: the broker runs with `allow.everyone.if.no.acl.found=false`, so writing another department's
topic fails with TOPIC_AUTHORIZATION_FAILED. WRITE on a topic also covers the idempotent producer (KIP-679, Kafka ≥ 3.0),
so no cluster ACL is needed. The admin calls go through a listener whose principal may manage users and ACLs (locally
the loopback PLAINTEXT listener, User:ANONYMOUS, a super user). See docs/kafka-security.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import ssl
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka.errors import TopicAlreadyExistsError

from citywatch.topics import Topics
from services.kafka_grants import Grant, scram_user
from services.topic_admin import FEED_RETENTION

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
CREDENTIALS_FILE = "kafka-credentials.json"
# What a department may do on each of its own feed topics; WRITE implies idempotent write since Kafka 3.0.
DEPARTMENT_OPERATIONS = (ACLOperation.WRITE, ACLOperation.DESCRIBE)

_NAME = re.compile(r"^[a-z0-9_-]+$")  # what Topics.feed_pattern accepts as a department; feeds follow the same rule


class KafkaAccessError(RuntimeError):
    """The broker refused to create a user or an ACL; the message says which and why."""


def department_client_kwargs(
    department: str, password: str, *, user_prefix: str = "", ca_file: str | None = None
) -> dict[str, Any]:
    """SASL settings for a department's producer; the same keyword names work for kafka-python and aiokafka.

    Use them with the DEPARTMENTS listener's bootstrap (`StackConfig.departments_bootstrap` locally). With `ca_file`
    (the cluster's CA certificate) the connection is TLS, SASL_SSL, as on the cluster profile and on Strimzi.
    """
    tls = {} if ca_file is None else {"ssl_context": ssl.create_default_context(cafile=ca_file)}
    return {
        "security_protocol": "SASL_PLAINTEXT" if ca_file is None else "SASL_SSL",
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": scram_user(department, user_prefix),
        "sasl_plain_password": password,
        **tls,
    }


def department_credentials(run_dir: Path, departments: Iterable[str] = ()) -> dict[str, str]:
    """Passwords of the local stack's department users (department -> password), kept in `<run_dir>/kafka-credentials.json`.

    A department without a password gets a random one, generated once; the file is readable by its owner only (0600).
    With no departments given, returns what the file holds.
    """
    path = Path(run_dir) / CREDENTIALS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    missing = [d for d in dict.fromkeys(departments) if d not in stored]
    for department in missing:
        _check_name(department, "department")
        stored[department] = secrets.token_urlsafe(24)
    if missing or (path.exists() and path.stat().st_mode & 0o077):
        write_private(path, json.dumps(stored, indent=2, sort_keys=True) + "\n")
    return stored


def ensure_department_access(
    bootstrap: str,
    topics: Topics,
    grants: Mapping[str, Iterable[str]],
    credentials: Mapping[str, str],
    *,
    user_prefix: str = "",
    partitions: int = 4,
    replication: int = 1,
    prune: bool = True,
    admin_kwargs: Mapping[str, Any] | None = None,
    wait_s: float = 10.0,
) -> None:
    """Make the broker match `grants` (department -> feeds): feed topics exist, users exist, ACLs allow exactly that.

    Idempotent: safe to run repeatedly. For each department: its SCRAM user gets the password from `credentials`
    (re-salted each run; existing connections keep working), its feed topics are created if missing, and it gets
    WRITE + DESCRIBE on each. With `prune`, ACLs of these departments' users on other feed topics of this prefix are
    removed (a feed taken away from a department stops working); departments not listed are left alone
    (`revoke_department` removes one). Returns once the broker's authorizer shows exactly these ACLs (ACL records
    reach it through the metadata log a moment after the controller accepts them), or raises after `wait_s`.
    """
    wanted_feeds = {department: sorted(set(feeds)) for department, feeds in grants.items()}
    for department, feeds in wanted_feeds.items():
        _check_name(department, "department")
        for feed in feeds:
            _check_name(feed, "feed")
        if department not in credentials:
            raise KeyError(f"no Kafka password for department {department!r}")

    wanted_acls = {
        _allow(scram_user(department, user_prefix), topics.feed(feed, department), operation)
        for department, feeds in wanted_feeds.items()
        for feed in feeds
        for operation in DEPARTMENT_OPERATIONS
    }
    feed_topics = sorted({topics.feed(feed, d) for d, feeds in wanted_feeds.items() for feed in feeds})

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="citywatch-kafka-access", **(admin_kwargs or {}))
    try:
        _ensure_feed_topics(admin, feed_topics, partitions, replication)
        _ensure_users(admin, {scram_user(d, user_prefix): credentials[d] for d in wanted_feeds})
        if wanted_acls:
            _raise_failures(admin.create_acls(sorted(wanted_acls, key=repr)), "creating ACLs")
        users = {f"User:{scram_user(d, user_prefix)}" for d in wanted_feeds}
        if prune:
            stale = [
                acl
                for acl in _topic_acls(admin)
                if acl.principal in users and _is_feed_topic(acl, topics) and acl not in wanted_acls
            ]
            _delete(admin, stale)
        _wait_until_enforced(admin, topics, users, wanted_acls, prune, wait_s)
    finally:
        admin.close()


_RESOURCES = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.CLUSTER}
_PATTERNS = {"literal": ACLResourcePatternType.LITERAL, "prefix": ACLResourcePatternType.PREFIXED}
_OPERATIONS = {
    "Read": ACLOperation.READ,
    "Write": ACLOperation.WRITE,
    "Describe": ACLOperation.DESCRIBE,
    "Create": ACLOperation.CREATE,
    "IdempotentWrite": ACLOperation.IDEMPOTENT_WRITE,
}


def grant_acls(user: str, grant: Grant) -> list[ACL]:
    """The broker's ACLs for one grant of one user."""
    resource = ResourcePattern(_RESOURCES[grant.kind], grant.name, _PATTERNS[grant.pattern])
    return [
        ACL(f"User:{user}", "*", _OPERATIONS[operation], ACLPermissionType.ALLOW, resource)
        for operation in grant.operations
    ]


def acls_of(grants: Mapping[str, Iterable[Grant]]) -> set[ACL]:
    """Every ACL the users' grants give."""
    return {acl for user, user_grants in grants.items() for grant in user_grants for acl in grant_acls(user, grant)}


def apply_grants(
    admin: KafkaAdminClient, grants: Mapping[str, Iterable[Grant]], passwords: Mapping[str, str], wait_s: float = 30.0
) -> None:
    """Make every user of `grants` a SCRAM user with its password and give it exactly the ACLs its grants list
    (`services/kafka_grants.py`), through an admin client of a super user; returns once the authorizer has them all.
    Idempotent; ACLs the users had beyond these are left alone (a cluster keeps the grants of every topic prefix)."""
    missing = sorted(set(grants) - set(passwords))
    if missing:
        raise KeyError(f"no Kafka password for {missing}")
    _ensure_users(admin, {user: passwords[user] for user in grants})
    wanted = acls_of(grants)
    _raise_failures(admin.create_acls(sorted(wanted, key=repr)), "creating ACLs")
    deadline = time.monotonic() + wait_s
    while True:
        absent = wanted - acls_on(admin)
        if not absent:
            return
        if time.monotonic() >= deadline:
            raise KafkaAccessError(f"the brokers did not apply {len(absent)} ACLs within {wait_s:.0f} s: {absent}")
        time.sleep(0.1)


def revoke_department(
    bootstrap: str,
    topics: Topics,
    department: str,
    *,
    user_prefix: str = "",
    admin_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Remove a department's SCRAM user and every ACL of that user on this prefix's feed topics (idempotent)."""
    user = scram_user(department, user_prefix)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="citywatch-kafka-access", **(admin_kwargs or {}))
    try:
        _delete(admin, [a for a in _topic_acls(admin) if a.principal == f"User:{user}" and _is_feed_topic(a, topics)])
        described = admin.describe_user_scram_credentials([user]).get(user)
        if described is not None and described["error"] is None:  # an unknown user is described with an error
            deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
            errors = {u: e for u, e in admin.alter_user_scram_credentials([deletion]).items() if e}
            if errors:
                raise KafkaAccessError(f"deleting SCRAM credentials failed: {errors}")
    finally:
        admin.close()


def _wait_until_enforced(
    admin: KafkaAdminClient, topics: Topics, users: set[str], wanted: set[ACL], prune: bool, wait_s: float
) -> None:
    # The broker answers DescribeAcls from the same cache its authorizer decides with.
    deadline = time.monotonic() + wait_s
    while True:
        present = {a for a in _topic_acls(admin) if a.principal in users and _is_feed_topic(a, topics)}
        missing = wanted - present
        extra = present - wanted if prune else set()
        if not missing and not extra:
            return
        if time.monotonic() >= deadline:
            raise KafkaAccessError(
                f"the broker did not apply the ACLs within {wait_s:.0f} s: missing {missing}, extra {extra}"
            )
        time.sleep(0.05)


def _ensure_feed_topics(admin: KafkaAdminClient, names: list[str], partitions: int, replication: int) -> None:
    existing = set(admin.list_topics())
    new = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication, topic_configs=FEED_RETENTION)
        for name in names
        if name not in existing
    ]
    if new:
        with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
            admin.create_topics(new)


def _ensure_users(admin: KafkaAdminClient, passwords: Mapping[str, str]) -> None:
    if not passwords:
        return
    upserts = [
        UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password, iterations=SCRAM_ITERATIONS)
        for user, password in passwords.items()
    ]
    errors = {user: error for user, error in admin.alter_user_scram_credentials(upserts).items() if error}
    if errors:
        raise KafkaAccessError(f"setting SCRAM credentials failed: {errors}")


def _allow(user: str, topic: str, operation: ACLOperation) -> ACL:
    return ACL(
        principal=f"User:{user}",
        host="*",
        operation=operation,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(ResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL),
    )


def _topic_acls(admin: KafkaAdminClient) -> list[ACL]:
    return list(acls_on(admin, ResourceType.TOPIC))


def acls_on(admin: KafkaAdminClient, kind: ResourceType = ResourceType.ANY) -> set[ACL]:
    """Every ACL on resources of `kind` (every resource by default), as the node the admin client asks knows them."""
    every = ACLFilter(
        principal=None,
        host=None,
        operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ANY,
        resource_pattern=ResourcePatternFilter(kind, None, ACLResourcePatternType.ANY),
    )
    acls, _ = admin.describe_acls(every)  # raises on a broker error
    return set(acls)


def _is_feed_topic(acl: ACL, topics: Topics) -> bool:
    return str(acl.resource_pattern.resource_name).startswith(f"{topics.prefix}.feed.")


def _delete(admin: KafkaAdminClient, acls: list[ACL]) -> None:
    if not acls:
        return
    filters = [
        ACLFilter(
            principal=acl.principal,
            host=acl.host,
            operation=acl.operation,
            permission_type=acl.permission_type,
            resource_pattern=ResourcePatternFilter(
                acl.resource_pattern.resource_type,
                acl.resource_pattern.resource_name,
                acl.resource_pattern.pattern_type,
            ),
        )
        for acl in acls
    ]
    failed = [(f, error) for f, _, error in admin.delete_acls(filters) if error.errno != 0]
    if failed:
        raise KafkaAccessError(f"deleting ACLs failed: {failed}")


def _raise_failures(result: Mapping[str, list[Any]], doing: str) -> None:
    if result.get("failed"):
        raise KafkaAccessError(f"{doing} failed: {result['failed']}")


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} must be lowercase letters, digits, '_' or '-' (it is part of a topic name)")


def write_private(path: Path, text: str) -> None:
    """Write a secret to `path`, readable by its owner only (0600), replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)  # atomic: a reader never sees half a file
