"""Kafka client settings: what each security protocol asks for, and errors naming the setting to fix."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

from citywatch.settings import CommonSettings
from services.kafka_client import KafkaSettingsError, client_kwargs, faust_credentials


def test_plaintext_needs_nothing_but_the_bootstrap() -> None:
    settings = CommonSettings(kafka_bootstrap="k1:9092,k2:9092")
    assert client_kwargs(settings) == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_reads_the_password_file_and_builds_a_tls_context(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    settings = CommonSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="citywatch-alerts",
        kafka_sasl_password_file=str(password),
    )
    kwargs = client_kwargs(settings)
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("citywatch-alerts", "s3cret")
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "citywatch-alerts" and credentials.ssl_context is not None


def test_missing_user_or_password_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(KafkaSettingsError, match="CITYWATCH_KAFKA_SASL_USERNAME"):
        client_kwargs(CommonSettings(kafka_security_protocol="SASL_PLAINTEXT"))
    with pytest.raises(KafkaSettingsError, match="CITYWATCH_KAFKA_SASL_PASSWORD_FILE"):
        client_kwargs(CommonSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u"))
    with pytest.raises(KafkaSettingsError, match="cannot read"):
        client_kwargs(
            CommonSettings(
                kafka_security_protocol="SASL_PLAINTEXT",
                kafka_sasl_username="u",
                kafka_sasl_password_file=str(tmp_path / "absent"),
            )
        )
    with pytest.raises(KafkaSettingsError, match="CITYWATCH_KAFKA_SSL_CAFILE"):
        client_kwargs(CommonSettings(kafka_security_protocol="SSL", kafka_ssl_cafile=str(tmp_path / "absent.pem")))
