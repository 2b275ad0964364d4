"""Wiring: ``build_app(settings)`` builds the Faust app with its topics, agents, timers and pages.

    newsflow.raw          RawArticle, keyed by article id          ← ``newsflow replay``
      └─ clean            → newsflow.cleaned     CleanedArticle   (text every offset refers to)
          └─ entities     → newsflow.tagged      TaggedArticle    (mentions, entities, places)
              └─ classify → newsflow.classified  ClassifiedArticle (category, event)
                  └─ dedup → newsflow.enriched   EnrichedArticle  (the public output topic)
                      └─ sink → out_dir/YYYY-MM-DD/*.jsonl
    newsflow.deadletter   DeadLetter from any stage, with the original bytes and the reason

The dedup topic has ``settings.dedup_partitions`` partitions (default 1) so that its index sees
every article: near-duplicates arrive with different keys and would otherwise land on different
partitions. The other stages scale out with ``settings.partitions``; see README "Scaling out".

This module only connects the parts; each concern has its own module: ``stages`` (the agents'
loops), ``dedup_state`` (the dedup index over tables), ``delivery`` (retrying sends, dead letters,
file writes), ``sink`` (the file layout), ``health`` (lag, stall watch, ``/health``), ``metrics``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import TYPE_CHECKING, Any

import faust

from agents.app import create_app
from agents.dedup_state import DedupTables
from agents.delivery import Delivery
from agents.health import LAG_INTERVAL, health_page, watch_consumer
from agents.metrics import metrics_page
from agents.sink import FileSink
from agents.stages import Stage, run_sink, run_stage
from agents.stall import StallWatch
from pipeline.dedup import DEFAULT as DEDUP_DEFAULT
from pipeline.enrich import classify_step, clean_step, entities_batch_step, entities_step
from schemas import ClassifiedArticle, CleanedArticle, RawArticle, TaggedArticle

if TYPE_CHECKING:  # the settings object is passed in; agents never build one
    from newsflow.settings import Settings

log = logging.getLogger("newsflow.agents")


def build_app(settings: Settings) -> faust.App:
    """The worker's whole app, from ``settings``; nothing is created before this is called."""
    app = create_app(settings)

    def topic(stage: str, partitions: int | None = None) -> faust.TopicT:
        return app.topic(
            settings.topic(stage), partitions=partitions or settings.partitions, key_type=bytes, value_type=bytes
        )

    raw, cleaned, tagged = topic("raw"), topic("cleaned"), topic("tagged")
    classified = topic("classified", settings.dedup_partitions)
    enriched, deadletter = topic("enriched"), topic("deadletter")

    files = FileSink(settings.out_dir, window=settings.sink_dedup_window)
    delivery = Delivery(deadletter, files)
    config = dataclasses.replace(DEDUP_DEFAULT, window_seconds=int(settings.dedup_window_days * 86400))
    dedup = DedupTables(app, settings.dedup_partitions, config)

    stages = [
        (raw, Stage("clean", RawArticle.from_bytes, clean_step, cleaned)),
        (
            cleaned,
            Stage(
                "entities",
                CleanedArticle.from_bytes,
                functools.partial(entities_step, mode=settings.entity_mode),
                tagged,
                batch_step=functools.partial(entities_batch_step, mode=settings.entity_mode),
                batch_size=settings.entity_batch,
                batch_seconds=settings.entity_batch_seconds,
            ),
        ),
        (tagged, Stage("classify", TaggedArticle.from_bytes, classify_step, classified)),
        (classified, Stage("dedup", ClassifiedArticle.from_bytes, dedup.step, enriched)),
    ]
    for source, stage in stages:
        app.agent(source, name=f"agents.topology.{stage.name}")(_stage_agent(stage, settings, delivery))

    async def sink(stream: faust.StreamT) -> None:
        await run_sink(stream, settings, delivery)

    app.agent(enriched, name="agents.topology.sink")(sink)

    async def dedup_expiry() -> None:
        """Forget articles published more than ``dedup_window_days`` before the newest one seen."""
        owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == classified.get_topic_name()}
        removed = dedup.expire(owned)
        if removed is not None:
            log.info("dedup expiry removed %d keys", removed)

    app.timer(interval=settings.dedup_expiry_seconds, name="agents.topology.dedup_expiry")(dedup_expiry)

    stalls = StallWatch(settings.stall_seconds)
    stage_topics = frozenset(t.get_topic_name() for t in (raw, cleaned, tagged, classified, enriched))

    async def consumer_lag() -> None:
        await watch_consumer(app, stalls, stage_topics)

    app.timer(interval=LAG_INTERVAL, name="agents.topology.consumer_lag")(consumer_lag)

    async def on_rebalance(sender: Any, *args: Any, **kwargs: Any) -> None:
        """Partitions moved: what the sink and the band index remember may belong to another worker."""
        files.forget()
        dedup.mark_stale()

    app.on_partitions_revoked.connect(on_rebalance)  # type: ignore[arg-type]  # mode's stubs want signal=
    app.on_partitions_assigned.connect(on_rebalance)  # type: ignore[arg-type]
    app.page("/metrics")(metrics_page)
    app.page("/health")(health_page(settings.app_id, settings.entity_mode, delivery))
    return app


def _stage_agent(stage: Stage, settings: Settings, delivery: Delivery) -> Any:
    async def agent(stream: faust.StreamT) -> None:
        await run_stage(stage, stream, settings, delivery)

    agent.__doc__ = f"The {stage.name} stage."
    agent.__name__ = agent.__qualname__ = stage.name  # how Faust labels the agent in its logs
    return agent
