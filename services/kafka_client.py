"""How citywatch's own processes connect to Kafka: one place turning the settings into client keywords.

Locally the broker's loopback listener needs nothing (PLAINTEXT). On Strimzi every listener wants SCRAM over TLS:
set `CITYWATCH_KAFKA_SECURITY_PROTOCOL=SASL_SSL`, the user, the mounted password file and the cluster CA.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from citywatch.settings import CommonSettings, env_name


class KafkaSettingsError(ValueError):
    """The Kafka security settings do not fit together; the message names the setting to fix."""


def _password(settings: CommonSettings) -> str:
    if not settings.kafka_sasl_password_file:
        raise KafkaSettingsError(
            f"{env_name('kafka_security_protocol')}={settings.kafka_security_protocol} needs "
            f"{env_name('kafka_sasl_password_file')} (a file holding the user's password)"
        )
    path = Path(settings.kafka_sasl_password_file)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KafkaSettingsError(f"{env_name('kafka_sasl_password_file')}: cannot read {path}: {exc.strerror}") from exc


def ssl_context(settings: CommonSettings) -> ssl.SSLContext | None:
    if "SSL" not in settings.kafka_security_protocol:
        return None
    try:
        return ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSettingsError(
            f"{env_name('kafka_ssl_cafile')}: cannot load {settings.kafka_ssl_cafile}: {exc}"
        ) from exc


def client_kwargs(settings: CommonSettings) -> dict[str, Any]:
    """Keywords for aiokafka and kafka-python clients (both take the same names), bootstrap servers included."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        if not settings.kafka_sasl_username:
            raise KafkaSettingsError(
                f"{env_name('kafka_security_protocol')}={settings.kafka_security_protocol} needs "
                f"{env_name('kafka_sasl_username')}"
            )
        kwargs |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": _password(settings),
        }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    return kwargs


Connection = str | Mapping[str, Any]
"""Where a tool's Kafka client connects: a bootstrap (an unsecured listener), or `client_kwargs(settings)`."""


def connection_kwargs(connection: Connection) -> dict[str, Any]:
    """Keywords of a kafka-python or aiokafka client for a `Connection`."""
    return {"bootstrap_servers": connection} if isinstance(connection, str) else dict(connection)


def faust_credentials(settings: CommonSettings) -> Any:
    """faust's `broker_credentials` for the same settings (None for PLAINTEXT)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=_password(settings),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=ssl_context(settings),
    )


async def apply_committed(
    settings: CommonSettings,
    topics: Sequence[str],
    group_id: str,
    apply: Callable[[Any], Awaitable[None]],
    after_commit: Callable[[], None] = lambda: None,
) -> None:
    """Consume `topics` as group `group_id` (from its committed offsets, the earliest without), `apply` every record
    in order, and commit a fetch only once all of it is applied: a crash replays records, never skips one. Runs until
    cancelled; Kafka errors propagate (the caller's supervisor restarts it)."""
    consumer = AIOKafkaConsumer(
        *topics,
        **client_kwargs(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for messages in batches.values():
                for message in messages:
                    await apply(message)
            if batches:
                await consumer.commit()
                after_commit()
    finally:
        await consumer.stop()
