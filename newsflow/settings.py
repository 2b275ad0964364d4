"""The one settings object. Every value can be set by an environment variable ``NEWSFLOW_<NAME>``
(for example ``NEWSFLOW_KAFKA_BOOTSTRAP=broker:9092``) or a ``.env`` file in the working folder."""

from __future__ import annotations

import ssl
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", env_file=".env", extra="ignore")

    # --- Kafka ---------------------------------------------------------------------------------
    kafka_bootstrap: str = "127.0.0.1:9092"
    app_id: str = Field("newsflow", description="Faust app id = consumer group and changelog prefix")
    topic_prefix: str = "newsflow"
    partitions: int = Field(4, ge=1, description="partitions of every stage topic and its tables")
    dedup_partitions: int = Field(
        1, ge=1, description="partitions of the dedup topic; 1 keeps the index global (see README)"
    )
    replication_factor: int = Field(1, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = Field(None, description="never logged or printed (a secret type)")
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    # --- Worker --------------------------------------------------------------------------------
    store: str = Field("rocksdb://", description="table store: rocksdb:// in production, memory:// in tests")
    data_dir: Path = Path(".run/faust")
    web_port: int = Field(6066, description="per-worker HTTP port (/metrics, /health)")
    web_enabled: bool = True
    log_level: str = "info"
    json_logs: bool = False

    # --- Stages --------------------------------------------------------------------------------
    max_article_bytes: int = Field(5_000_000, description="larger raw messages are dead-lettered")
    max_output_bytes: int = Field(
        8_000_000,
        ge=1024,
        description="a stage result larger than this is dead-lettered; kept below the producer's "
        "request size (max_request_bytes) so a send can never fail for its size",
    )
    deadletter_preview_bytes: int = Field(65_536, ge=0, description="original bytes kept as text in a dead letter")
    stall_seconds: float = Field(
        30.0,
        gt=0,
        description="a partition whose committed offset stays behind its log end this long with every "
        "fetched message acknowledged is re-read from the committed offset (agents.stall)",
    )
    stage_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="per-article budget of a stage step run off the event loop; an article that takes longer "
        "is dead-lettered (agents.guard.OffLoop)",
    )
    stage_threads: bool = Field(
        True,
        description="run clean/entities/classify off the event loop in a thread per stage, so a long step "
        "never stalls heartbeats and commits (off: in the loop, no time budget)",
    )
    entity_batch: int = Field(
        16,
        ge=1,
        description="articles the entities agent tags together at most (the tagger is faster on a batch); "
        "1: one at a time (agents.stages.run_stage)",
    )
    entity_batch_seconds: float = Field(
        0.01,
        gt=0,
        description="how long the entities agent waits for a batch to fill before tagging what it has (under "
        "load the batch is full at once: messages queue while the previous batch is tagged)",
    )
    poison_crash_limit: int = Field(
        3,
        ge=0,
        description="after this many worker deaths while a stage processed one message (same key), the "
        "message is dead-lettered instead of processed again; 0 turns the guard off (agents.guard.CrashGuard)",
    )
    dedup_window_days: float = Field(7.0, gt=0, description="dedup memory, in publication time")
    dedup_expiry_seconds: float = Field(
        600.0,
        gt=0,
        description="how often the dedup index forgets articles older than the window; each run scans "
        "the whole index, and between runs the index overshoots the window by what arrives meanwhile "
        "(ingest rate x interval), so a short interval bounds memory tighter at some CPU cost",
    )
    entity_mode: Literal["balanced", "accurate", "fast"] = Field(
        "balanced",
        description="balanced: the narrow trained NER; accurate: the wide one (more F1 on cased text, "
        "a third of the speed); fast: rules and gazetteer (README 'Entities')",
    )

    replay_checkpoint: Path | None = Field(None, description="default resume file of `newsflow replay`")

    # --- Sink ----------------------------------------------------------------------------------
    out_dir: Path = Path("out/enriched")
    sink_batch: int = Field(500, ge=1, description="articles per sink file at most")
    sink_flush_seconds: float = Field(1.0, gt=0)
    sink_dedup_window: int = Field(
        100_000, ge=1000, description="offsets per partition within which the sink skips upstream copies"
    )

    # --- Feeds: live polling (README "Feeds and archives") ----------------------------------------
    poll_interval_seconds: float = Field(900.0, gt=0, description="default time between polls of a feed")
    poll_jitter: float = Field(0.1, ge=0, lt=1, description="+- fraction of random spread on every interval")
    poll_max_backoff_seconds: float = Field(21_600.0, gt=0, description="cap of the error backoff")
    poll_concurrency: int = Field(16, ge=1, description="feeds one poller polls at once")
    fetch_concurrency: int = Field(4, ge=1, description="article pages one poller fetches at once")
    user_agent: str = "newsflow/0.1 (news pipeline; set NEWSFLOW_USER_AGENT to name your contact)"
    fetch_timeout_seconds: float = Field(20.0, gt=0, description="a whole request, body included")
    fetch_max_bytes: int = Field(5_000_000, ge=1024, description="larger feeds and pages (decompressed) are refused")
    fetch_max_redirects: int = Field(5, ge=0)
    host_concurrency: int = Field(2, ge=1, description="requests in flight per host")
    host_delay_seconds: float = Field(1.0, ge=0, description="least time between requests to one host")
    respect_robots: bool = True
    robots_ttl_seconds: float = Field(86_400.0, gt=0)
    feed_seen_cap: int = Field(
        2000, ge=10, description="item hashes a feed's state remembers; a poll reads at most half as many items"
    )
    article_memory_days: float = Field(30.0, gt=0, description="how long an article URL counts as fetched")
    poll_web_port: int = Field(6067, description="the poller's HTTP port (/metrics, /health)")

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        """Settings from a mapping of ``NEWSFLOW_*`` variables (as handed to a worker process)."""
        prefix = "NEWSFLOW_"
        values: dict[str, Any] = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
        return cls(**values)

    def topic(self, stage: str) -> str:
        return f"{self.topic_prefix}.{stage}"

    # --- Derived values, each computed in one place ---------------------------------------------
    @property
    def max_request_bytes(self) -> int:
        """Producer request size and per-partition fetch size: room for the largest accepted
        article plus what the stages add (at least Kafka's 1 MiB default)."""
        return max(1_048_576, self.max_article_bytes * 2)

    @property
    def worker_fetch_bytes(self) -> int:
        """Fetch size of the Faust consumer (at least Faust's 4 MiB default)."""
        return max(4_194_304, self.max_article_bytes * 2)

    @property
    def reader_fetch_bytes(self) -> int:
        """Total fetch size of the aiokafka readers (at least aiokafka's 50 MiB default)."""
        return max(52_428_800, self.max_article_bytes * 2)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The one TLS context of every Kafka client (Faust and aiokafka), or None without TLS."""
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile:
            ctx.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        return ctx

    @property
    def sasl(self) -> tuple[str, str | None, str | None] | None:
        """``(mechanism, username, password)`` when the protocol uses SASL, else None."""
        if not self.security_protocol.startswith("SASL"):
            return None
        password = self.sasl_password.get_secret_value() if self.sasl_password is not None else None
        return self.sasl_mechanism or "PLAIN", self.sasl_username, password

    def kafka_client_kwargs(self) -> dict[str, object]:
        """Security options for aiokafka clients (producer, consumer, admin)."""
        kw: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.ssl_context is not None:
            kw["ssl_context"] = self.ssl_context
        if self.sasl is not None:
            mechanism, username, password = self.sasl
            kw.update(sasl_mechanism=mechanism, sasl_plain_username=username, sasl_plain_password=password)
        return kw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
