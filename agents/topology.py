"""The pipeline as Faust agents, top to bottom.

    newsflow.raw          RawArticle, keyed by article id          ← ``newsflow replay``
      └─ clean            → newsflow.cleaned     CleanedArticle   (text every offset refers to)
          └─ entities     → newsflow.tagged      TaggedArticle    (mentions, entities, places)
              └─ classify → newsflow.classified  ClassifiedArticle (category, event)
                  └─ dedup → newsflow.enriched   EnrichedArticle  (the public output topic)
                      └─ sink → out_dir/YYYY-MM-DD/*.jsonl
    newsflow.deadletter   DeadLetter from any stage, with the original bytes and the reason

Every stage is at-least-once: a message is acknowledged only after its result was handed to the
producer, and the results are idempotent (same key, same content; the file sink replaces by
offset), so a crash repeats work but never loses an article.

The dedup topic has ``settings.dedup_partitions`` partitions (default 1) so that its index sees
every article: near-duplicates arrive with different keys and would otherwise land on different
partitions. The other stages scale out with ``settings.partitions``; see README "Scaling out".
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
from pydantic import BaseModel

from agents import metrics
from agents.app import create_app
from agents.deadletter import dead_letter
from agents.sink import write_batch
from newsflow.settings import get_settings
from pipeline.dedup import DEFAULT as _DEDUP_DEFAULT
from pipeline.dedup import decide, expire, fingerprint
from pipeline.enrich import classify_step, clean_step, enriched_from, entities_step
from schemas import ClassifiedArticle, CleanedArticle, RawArticle, TaggedArticle

log = logging.getLogger("newsflow.agents")
settings = get_settings()
app = create_app(settings)
DEDUP_CONFIG = dataclasses.replace(_DEDUP_DEFAULT, window_seconds=int(settings.dedup_window_days * 86400))


def _topic(stage: str, partitions: int | None = None) -> faust.TopicT:
    return app.topic(settings.topic(stage), partitions=partitions or settings.partitions,
                     key_type=bytes, value_type=bytes)


raw_topic = _topic("raw")
cleaned_topic = _topic("cleaned")
tagged_topic = _topic("tagged")
classified_topic = _topic("classified", settings.dedup_partitions)
enriched_topic = _topic("enriched")
deadletter_topic = _topic("deadletter")

# Dedup index: three tables over the one dedup partition (keys and values are plain JSON).
_json = faust.Schema(key_type=str, value_type=None, key_serializer="json", value_serializer="json")
dedup_exact = app.Table("dedup-exact", partitions=settings.dedup_partitions, schema=_json)
dedup_bands = app.Table("dedup-bands", partitions=settings.dedup_partitions, schema=_json)
dedup_seen = app.Table("dedup-seen", partitions=settings.dedup_partitions, schema=_json)


async def _run_stage(
    stage: str,
    stream: faust.StreamT,
    parse: Callable[[bytes], BaseModel],
    step: Callable[[Any], BaseModel],
    out: faust.TopicT,
) -> None:
    """Shared loop of the stateless stages: parse, run the pure step, forward or dead-letter."""
    async for event in stream.events():
        key, value = event.key, event.value
        started = time.perf_counter()
        try:
            if value is not None and len(value) > settings.max_article_bytes:
                raise ValueError(f"message of {len(value)} bytes exceeds max_article_bytes")
            result = step(parse(value))
        except Exception as exc:  # noqa: BLE001 - every failure is dead-lettered, never lost
            metrics.ERRORS.labels(stage, type(exc).__name__).inc()
            metrics.DEAD_LETTERED.labels(stage).inc()
            log.warning("%s: dead-lettering %r: %s: %s", stage, key, type(exc).__name__, exc)
            await deadletter_topic.send(key=key, value=dead_letter(stage, key, value, exc).to_bytes())
            continue
        await out.send(key=key, value=result.to_bytes())
        metrics.PROCESSED.labels(stage).inc()
        metrics.LATENCY.labels(stage).observe(time.perf_counter() - started)


@app.agent(raw_topic)
async def clean(stream: faust.StreamT) -> None:
    await _run_stage("clean", stream, RawArticle.from_bytes, clean_step, cleaned_topic)


@app.agent(cleaned_topic)
async def entities(stream: faust.StreamT) -> None:
    await _run_stage("entities", stream, CleanedArticle.from_bytes, entities_step, tagged_topic)


@app.agent(tagged_topic)
async def classify(stream: faust.StreamT) -> None:
    await _run_stage("classify", stream, TaggedArticle.from_bytes, classify_step, classified_topic)


def _dedup_step(article: ClassifiedArticle) -> BaseModel:
    verdict = decide(article.id, fingerprint(article.text), dedup_exact, dedup_bands, dedup_seen,
                     published_at=article.published_at, config=DEDUP_CONFIG)
    return enriched_from(article, verdict)


@app.agent(classified_topic)
async def dedup(stream: faust.StreamT) -> None:
    await _run_stage("dedup", stream, ClassifiedArticle.from_bytes, _dedup_step, enriched_topic)


@app.timer(interval=600.0)
async def dedup_expiry() -> None:
    """Forget articles published more than ``dedup_window_days`` before the newest one seen."""
    newest = max((v["t"] for v in dedup_seen.values()), default=None)
    if newest is not None:
        removed = expire(newest, dedup_exact, dedup_bands, dedup_seen, DEDUP_CONFIG)
        log.info("dedup expiry removed %d keys", removed)


@app.agent(enriched_topic)
async def sink(stream: faust.StreamT) -> None:
    async for events in stream.take_events(settings.sink_batch, within=settings.sink_flush_seconds):
        by_partition: dict[int, list[faust.EventT]] = {}
        for ev in events:
            by_partition.setdefault(ev.message.partition, []).append(ev)
        for partition, evs in by_partition.items():
            write_batch(settings.out_dir, partition, evs[0].message.offset, [e.value for e in evs])
        metrics.PROCESSED.labels("sink").inc(len(events))


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/health")
async def health_page(web: Any, request: Any) -> Any:
    return web.json({"status": "ok", "app": settings.app_id})
