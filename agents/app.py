"""The Faust app, built from the settings object it is given."""

from __future__ import annotations

from typing import TYPE_CHECKING

import faust

if TYPE_CHECKING:  # the settings object is passed in; agents never build one
    from newsflow.settings import Settings


def _credentials(s: Settings) -> faust.types.auth.CredentialsArg | None:
    if s.sasl is not None:
        mechanism, username, password = s.sasl
        return faust.SASLCredentials(
            username=username, password=password, mechanism=mechanism, ssl_context=s.ssl_context
        )
    if s.ssl_context is not None:
        return faust.SSLCredentials(s.ssl_context)
    return None


def create_app(s: Settings) -> faust.App:
    from agents import faust_fixes

    faust_fixes.install()  # at-least-once: never commit over an unacknowledged offset
    return faust.App(
        s.app_id,
        broker=[f"kafka://{h.strip()}" for h in s.kafka_bootstrap.split(",")],
        broker_credentials=_credentials(s),
        store=s.store,
        datadir=str(s.data_dir),
        topic_partitions=s.partitions,
        topic_replication_factor=s.replication_factor,
        # At-least-once with idempotent outputs; Faust's exactly_once has open bugs (README "Topology").
        processing_guarantee="at_least_once",
        value_serializer="raw",
        key_serializer="raw",
        web_port=s.web_port,
        web_enabled=s.web_enabled,
        web_host="0.0.0.0",
        producer_max_request_size=s.max_request_bytes,
        consumer_max_fetch_size=s.worker_fetch_bytes,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        table_cleanup_interval=60.0,
    )
