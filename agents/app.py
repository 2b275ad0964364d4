"""The Faust app, built from the one settings object."""

from __future__ import annotations

import ssl

import faust

from newsflow.settings import Settings, get_settings


def _credentials(s: Settings) -> faust.types.auth.CredentialsArg | None:
    ctx: ssl.SSLContext | None = None
    if s.security_protocol in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(cafile=str(s.ssl_cafile) if s.ssl_cafile else None)
        if s.ssl_certfile:
            ctx.load_cert_chain(str(s.ssl_certfile), str(s.ssl_keyfile) if s.ssl_keyfile else None)
    if s.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=s.sasl_username,
            password=s.sasl_password.get_secret_value() if s.sasl_password else None,
            mechanism=s.sasl_mechanism or "PLAIN",
            ssl_context=ctx,
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def create_app(s: Settings | None = None) -> faust.App:
    from agents import faust_fixes

    faust_fixes.install()  # at-least-once: never commit over an unacknowledged offset
    s = s or get_settings()
    return faust.App(
        s.app_id,
        broker=[f"kafka://{h.strip()}" for h in s.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(s),
        store=s.store,
        datadir=str(s.data_dir),
        topic_partitions=s.partitions,
        topic_replication_factor=s.replication_factor,
        # At-least-once with idempotent sinks; Faust's exactly_once has open bugs.
        processing_guarantee="at_least_once",
        value_serializer="raw",
        key_serializer="raw",
        web_port=s.web_port,
        web_enabled=s.web_enabled,
        web_host="0.0.0.0",
        producer_max_request_size=max(1_048_576, s.max_article_bytes * 2),
        consumer_max_fetch_size=max(4_194_304, s.max_article_bytes * 2),
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_cleanup_interval=60.0,
    )
