"""The settings object: secrets stay secret, TLS/SASL options are built once for every Kafka
client, derived limits come from one place."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from agents.app import create_app
from newsflow.settings import Settings

CA = Path("/etc/ssl/certs/ca-certificates.crt")


def test_password_is_a_secret() -> None:
    s = Settings(sasl_password="hunter2-secret", sasl_username="u", security_protocol="SASL_PLAINTEXT")
    assert "hunter2-secret" not in repr(s) and "hunter2-secret" not in str(s.model_dump())
    kw = s.kafka_client_kwargs()
    assert kw["sasl_plain_password"] == "hunter2-secret" and kw["sasl_mechanism"] == "PLAIN"


@pytest.mark.skipif(not CA.is_file(), reason="no system CA bundle")
def test_faust_and_aiokafka_share_one_tls_context() -> None:
    s = Settings(
        security_protocol="SASL_SSL",
        ssl_cafile=CA,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",
        store="memory://",
        web_enabled=False,
    )
    ctx = s.kafka_client_kwargs()["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    creds = create_app(s).conf.broker_credentials
    assert creds.ssl_context is ctx
    assert (creds.username, creds.password, creds.mechanism.value) == ("u", "p", "SCRAM-SHA-512")


def test_plaintext_has_no_tls_or_sasl() -> None:
    s = Settings()
    assert s.ssl_context is None and s.sasl is None
    assert s.kafka_client_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_derived_limits_follow_max_article_bytes() -> None:
    small, large = Settings(max_article_bytes=1000), Settings(max_article_bytes=10_000_000)
    assert small.max_request_bytes == 1_048_576 and large.max_request_bytes == 20_000_000
    assert small.worker_fetch_bytes == 4_194_304 and large.worker_fetch_bytes == 20_000_000
    assert small.reader_fetch_bytes == 52_428_800 and large.reader_fetch_bytes == 52_428_800
