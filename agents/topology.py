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

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import faust
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from agents import metrics
from agents.app import create_app
from agents.deadletter import (
    Outcome,
    TooLarge,
    guarded,
    letter_for,
    limits_for,
    minimal_dead_letter,
)
from agents.guard import CrashGuard, OffLoop, StageTimeout
from agents.sink import FileSink, UnsafePath, valid_line
from newsflow.settings import get_settings
from pipeline.dedup import DEFAULT as _DEDUP_DEFAULT
from pipeline.dedup import band_keys, decide, decode_signature, expire, fingerprint
from pipeline.enrich import classify_step, clean_step, enriched_from, entities_step
from schemas import ClassifiedArticle, CleanedArticle, RawArticle, TaggedArticle

log = logging.getLogger("newsflow.agents")
settings = get_settings()
app = create_app(settings)
DEDUP_CONFIG = dataclasses.replace(_DEDUP_DEFAULT, window_seconds=int(settings.dedup_window_days * 86400))


def _topic(stage: str, partitions: int | None = None) -> faust.TopicT:
    return app.topic(
        settings.topic(stage), partitions=partitions or settings.partitions, key_type=bytes, value_type=bytes
    )


raw_topic = _topic("raw")
cleaned_topic = _topic("cleaned")
tagged_topic = _topic("tagged")
classified_topic = _topic("classified", settings.dedup_partitions)
enriched_topic = _topic("enriched")
deadletter_topic = _topic("deadletter")

# Dedup index: two tables over the one dedup partition (keys and values are plain JSON), backed by
# changelog topics. The LSH band index is derived data: 64 band buckets per article would mean 64
# changelog records per article (the benchmark saw the dedup stage starve behind them), so it lives
# in memory and is rebuilt from ``dedup-seen`` (which stores every signature) after each rebalance.
_json: faust.Schema = faust.Schema(key_type=str, value_type=None, key_serializer="json", value_serializer="json")
dedup_exact = app.Table("dedup-exact", partitions=settings.dedup_partitions, schema=_json)
dedup_seen = app.Table("dedup-seen", partitions=settings.dedup_partitions, schema=_json)


async def _run_stage(
    stage: str,
    stream: faust.StreamT,
    parse: Callable[[bytes], BaseModel],
    step: Callable[[Any], BaseModel],
    out: faust.TopicT,
) -> None:
    """Shared loop of the stages: parse, run the pure step, forward or dead-letter.

    Parsing, size limits and serialization are ``agents.deadletter.guarded`` (the hostile-input
    tests run the same function). Any exception of a message becomes a dead letter; the loop itself
    never raises for a message. With ``stage_threads`` (default) the stateless stages run off the
    event loop in their own thread with a per-article budget (``stage_timeout_seconds``,
    ``agents.guard.OffLoop``), so heartbeats and commits go on during a long step. A message the
    worker process died on ``poison_crash_limit`` times is dead-lettered (``agents.guard.CrashGuard``).
    Sends are retried while Kafka is unreachable rather than dead-lettered.
    """
    limits = limits_for(settings, stage)
    off_loop = OffLoop(stage, settings.stage_timeout_seconds) if settings.stage_threads else None
    off_loop = off_loop if stage in _THREAD_SAFE_STAGES else None
    crashes = crash_guard()
    async for event in stream.events():
        key, value = event.key, event.value
        started = time.perf_counter()
        guard_key = key or f"{event.message.topic}:{event.message.partition}:{event.message.offset}".encode()
        poisoned = crashes.poisoned(stage, guard_key) if crashes else None
        if poisoned is not None:
            await _send_dead_letter(
                stage, key, Outcome(error=poisoned, letter=letter_for(stage, key, value, poisoned, limits))
            )
            crashes.done(stage, guard_key, forget=False)  # type: ignore[union-attr]
            continue
        if crashes:
            crashes.begin(stage, guard_key)
        if off_loop is not None:
            try:
                outcome = await off_loop.run(guarded, stage, key, value, parse, step, limits)
            except StageTimeout as exc:
                outcome = Outcome(error=exc, letter=letter_for(stage, key, value, exc, limits))
            except asyncio.CancelledError:  # a clean shutdown or rebalance, not a crash
                if crashes:
                    crashes.done(stage, guard_key, forget=False)
                raise
        else:
            outcome = guarded(stage, key, value, parse, step, limits)
        if crashes:
            crashes.done(stage, guard_key)
        if outcome.data is not None and len(key or b"") + len(outcome.data) > limits.max_out:
            too_large = TooLarge(f"key of {len(key or b'')} bytes plus result exceed {limits.max_out} bytes")
            outcome = Outcome(error=too_large, letter=letter_for(stage, key, value, too_large, limits))
        if outcome.data is None:
            await _send_dead_letter(stage, key, outcome)
            continue
        await _send_retrying(out, key, outcome.data, stage, headers=_source_header(stage, event))
        metrics.PROCESSED.labels(stage).inc()
        metrics.LATENCY.labels(stage).observe(time.perf_counter() - started)


@app.agent(raw_topic)
async def clean(stream: faust.StreamT) -> None:
    await _run_stage("clean", stream, RawArticle.from_bytes, clean_step, cleaned_topic)


@app.agent(cleaned_topic)
async def entities(stream: faust.StreamT) -> None:
    await _run_stage(
        "entities",
        stream,
        CleanedArticle.from_bytes,
        functools.partial(entities_step, mode=settings.entity_mode),
        tagged_topic,
    )


@app.agent(tagged_topic)
async def classify(stream: faust.StreamT) -> None:
    await _run_stage("classify", stream, TaggedArticle.from_bytes, classify_step, classified_topic)


class _CompactBuckets(MutableMapping[str, list[list[Any]]]):
    """The band buckets ``pipeline.dedup.decide`` reads and writes, stored compactly: the band key
    ``"NN:hex16"`` as one int and a bucket as a flat tuple ``(id, t, id, t, ...)``. Measured with
    tracemalloc on 1,000 BBC articles: 8.5 kB per article (10.6 kB as a dict of lists), so about
    0.85 GB per 100,000 articles inside the dedup window, on the worker that owns the dedup partition."""

    def __init__(self) -> None:
        self._d: dict[int, tuple[Any, ...]] = {}

    @staticmethod
    def _k(key: str) -> int:
        band, _, digest = key.partition(":")
        return (int(band) << 64) | int(digest, 16)

    def __getitem__(self, key: str) -> list[list[Any]]:
        flat = self._d[self._k(key)]
        return [[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)]

    def __setitem__(self, key: str, value: list[list[Any]]) -> None:
        self._d[self._k(key)] = tuple(x for entry in value for x in entry)

    def __delitem__(self, key: str) -> None:
        del self._d[self._k(key)]

    def __iter__(self) -> Iterator[str]:
        return (f"{k >> 64:02d}:{k & 0xFFFFFFFFFFFFFFFF:016x}" for k in list(self._d))

    def __len__(self) -> int:
        return len(self._d)


class _BandIndex:
    """In-memory LSH buckets, rebuilt from the ``dedup-seen`` table when partitions move."""

    def __init__(self) -> None:
        self.buckets = _CompactBuckets()
        self.stale = True

    def current(self) -> _CompactBuckets:
        if self.stale:
            self.buckets = _CompactBuckets()
            entries = sorted(((v["t"], k, v["sig"]) for k, v in dedup_seen.items()), key=lambda e: e[0])
            for t, article_id, sig in entries:
                for band in band_keys(decode_signature(sig), DEDUP_CONFIG):
                    bucket = self.buckets.get(band, [])
                    bucket.append([article_id, t])
                    self.buckets[band] = bucket[-DEDUP_CONFIG.max_bucket :]
            self.stale = False
            log.info("dedup: band index rebuilt from %d articles", len(entries))
        return self.buckets


BANDS = _BandIndex()


def _dedup_step(article: ClassifiedArticle) -> BaseModel:
    verdict = decide(
        article.id,
        fingerprint(article.text),
        dedup_exact,
        BANDS.current(),
        dedup_seen,
        published_at=article.published_at,
        config=DEDUP_CONFIG,
    )
    return enriched_from(article, verdict)


@app.agent(classified_topic)
async def dedup(stream: faust.StreamT) -> None:
    await _run_stage("dedup", stream, ClassifiedArticle.from_bytes, _dedup_step, enriched_topic)


class _TimerDeletes(MutableMapping[str, Any]):
    """A dedup table as the expiry timer sees it. Faust takes the changelog partition of a write
    from the event being processed and a timer has none: ``del table[key]`` there raises
    "Cannot modify table key from outside of stream iteration" and crashes the worker. So a key is
    deleted from the store directly and its tombstone sent explicitly to each dedup partition this
    worker owns (a key lives in the partition of the event that wrote it; a tombstone for a key a
    partition never had is harmless)."""

    def __init__(self, table: Any, partitions: set[int]) -> None:
        self.table, self.partitions = table, partitions

    def __getitem__(self, key: str) -> Any:
        return self.table.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("the expiry timer only deletes")

    def __delitem__(self, key: str) -> None:
        del self.table.data[key]
        for p in self.partitions:
            self.table.send_changelog(p, key, None, value_serializer="raw")

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.table.data.keys()))

    def __len__(self) -> int:
        return len(self.table.data)


@app.timer(interval=settings.dedup_expiry_seconds)
async def dedup_expiry() -> None:
    """Forget articles published more than ``dedup_window_days`` before the newest one seen."""
    owned = {tp.partition for tp in app.consumer.assignment() if tp.topic == classified_topic.get_topic_name()}
    newest = max((v["t"] for v in dedup_seen.values()), default=None)
    if newest is not None and owned:
        removed = expire(
            newest, _TimerDeletes(dedup_exact, owned), BANDS.current(), _TimerDeletes(dedup_seen, owned), DEDUP_CONFIG
        )
        log.info("dedup expiry removed %d keys", removed)


@app.agent(enriched_topic)
async def sink(stream: faust.StreamT) -> None:
    """Batches to files, each offset exactly once (see ``agents.sink``); offsets are committed only
    after this body returns, i.e. after the files were renamed into place."""
    batches = stream.take_events(settings.sink_batch, within=settings.sink_flush_seconds)  # type: ignore[attr-defined]
    async for events in batches:  # take_events is on Stream, not on the StreamT protocol
        by_partition: dict[int, list[tuple[int, bytes, str | None]]] = {}
        for ev in events:
            problem = valid_line(ev.value)
            if problem is not None:
                exc = ValueError(f"not written to the files: {problem}")
                limits = limits_for(settings, "sink")
                await _send_dead_letter(
                    "sink", ev.key, Outcome(error=exc, letter=letter_for("sink", ev.key, ev.value, exc, limits))
                )
                continue
            src = (ev.headers or {}).get(SOURCE_HEADER)
            by_partition.setdefault(ev.message.partition, []).append(
                (ev.message.offset, ev.value, src.decode("utf-8", "replace") if src else None)
            )
        for partition, evs in by_partition.items():
            await _write_retrying(partition, evs)
        metrics.PROCESSED.labels("sink").inc(sum(len(v) for v in by_partition.values()))


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/health")
async def health_page(web: Any, request: Any) -> Any:
    if SINK_TROUBLE:
        return web.json({"status": "failing", "app": settings.app_id, "sink": SINK_TROUBLE[-1]}, status=503)
    return web.json({"status": "ok", "app": settings.app_id})


# --- Hardening (issue 7): dead-letter and send helpers, file sink state --------------------------
_THREAD_SAFE_STAGES = frozenset({"clean", "entities", "classify"})


@functools.cache
def crash_guard() -> CrashGuard | None:
    """Created at the first message, not at import: it reads what the previous process left."""
    if not settings.poison_crash_limit:
        return None
    return CrashGuard(settings.data_dir / "crashguard", settings.poison_crash_limit)


FILE_SINK = FileSink(settings.out_dir, window=settings.sink_dedup_window)
SINK_TROUBLE: list[str] = []  # the last file-system error while the sink cannot write; empty when fine
SOURCE_HEADER = "nf-src"
_DEADLETTER_KEY_BYTES = 65_536


def _source_header(stage: str, event: faust.EventT) -> dict[str, bytes]:
    """``nf-src``: the raw message an article came from, so the sink can skip upstream copies."""
    src = (event.headers or {}).get(SOURCE_HEADER) if stage != "clean" else None
    if not src:
        src = f"{event.message.topic}:{event.message.partition}:{event.message.offset}".encode()
    return {SOURCE_HEADER: src if isinstance(src, bytes) else str(src).encode()}


async def _send_retrying(
    topic: faust.TopicT, key: bytes | None, value: bytes, stage: str, headers: dict[str, bytes] | None = None
) -> None:
    """Hand one message to the producer; while Kafka is unreachable, wait and retry (never drop)."""
    delay = 0.5
    while True:
        try:
            await topic.send(key=key, value=value, headers=headers)
            return
        except asyncio.CancelledError:
            raise
        except KafkaError as exc:
            metrics.ERRORS.labels(stage, type(exc).__name__).inc()
            log.warning(
                "%s: send to %s failed (%s: %s); retrying in %.1fs",
                stage,
                topic.get_topic_name(),
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _send_dead_letter(stage: str, key: bytes | None, outcome: Outcome) -> None:
    exc = outcome.error or RuntimeError("unknown failure")
    metrics.ERRORS.labels(stage, type(exc).__name__).inc()
    metrics.DEAD_LETTERED.labels(stage).inc()
    shown = key[:200] if isinstance(key, bytes) else key
    log.warning("%s: dead-lettering %r: %s: %s", stage, shown, type(exc).__name__, str(exc)[:500])
    dl_key = key[:_DEADLETTER_KEY_BYTES] if isinstance(key, bytes) else key
    letter = outcome.letter or minimal_dead_letter(stage, key, exc, exc)
    try:
        data = letter.to_bytes()
    except Exception as why:  # noqa: BLE001 - the reason must still go out
        data = minimal_dead_letter(stage, key, exc, why).to_bytes()
    await _send_retrying(deadletter_topic, dl_key, data, stage)


async def _write_retrying(partition: int, events: list[tuple[int, bytes, str | None]]) -> None:
    """Write one partition's batch; on a file-system error wait and retry, never acknowledge unwritten."""
    delay = 0.5
    while True:
        try:
            FILE_SINK.write(partition, events)
            if SINK_TROUBLE:
                log.warning("sink: writing works again (partition %d); catching up", partition)
                SINK_TROUBLE.clear()
                metrics.SINK_FAILING.set(0)
            return
        except (OSError, UnsafePath) as exc:
            SINK_TROUBLE[:] = [f"{type(exc).__name__}: {exc}"]
            metrics.SINK_FAILING.set(1)
            metrics.ERRORS.labels("sink", type(exc).__name__).inc()
            log.error(
                "sink: writing partition %d failed (%s: %s); retrying in %.1fs",
                partition,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)  # catch up within seconds once space is back


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's stubs want a signal= kwarg
async def _sink_on_revoked(sender: Any, revoked: Any = None, **kwargs: Any) -> None:
    FILE_SINK.forget()
    BANDS.stale = True


@app.on_partitions_assigned.connect  # type: ignore[arg-type]
async def _sink_on_assigned(sender: Any, assigned: Any = None, **kwargs: Any) -> None:
    FILE_SINK.forget()
    BANDS.stale = True


class StallWatch:
    """Re-reads a partition that Faust stopped feeding to its agent.

    Seen in the dedup stream test (about 1 run in 8): a message that lands, while a worker is
    starting, in a partition with no committed offset yet was fetched but never handed to its
    agent; Faust's fetch position had moved past it, so nothing re-read it until a restart (Faust
    drops fetched records in several places around rebalances: ``Consumer.getmany``,
    ``_drain_messages``). The symptom is unambiguous: the committed offset stays put behind the
    fetch position while the message at that offset is not being processed. After
    ``stall_seconds`` in that state the partition is sought back to its committed offset, once per
    state; the re-read is at-least-once like any redelivery (every stage is idempotent by key, the
    file sink by offset). A message merely queued behind a slow one can look the same; re-reading
    it then costs a duplicate, never a loss.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since: dict[Any, tuple[int, float]] = {}
        self.done: set[tuple[Any, int]] = set()

    def check(self, tp: Any, committed: int, position: int, in_flight: bool, now: float) -> int | None:
        """The offset to seek ``tp`` back to, or None. ``in_flight``: the message at ``committed``
        is held by an agent. Pure: the timer below feeds it."""
        if in_flight or committed >= position:
            self.since.pop(tp, None)
            return None
        first = self.since.get(tp)
        if first is None or first[0] != committed:
            self.since[tp] = (committed, now)
            return None
        if now - first[1] < self.seconds or (tp, committed) in self.done:
            return None
        self.done.add((tp, committed))
        return committed


STALLS = StallWatch(settings.stall_seconds)
_STAGE_TOPICS = frozenset(
    t.get_topic_name() for t in (raw_topic, cleaned_topic, tagged_topic, classified_topic, enriched_topic)
)


@app.timer(interval=5.0)
async def consumer_lag() -> None:
    """``newsflow_consumer_lag``: log end minus this worker's position, per assigned partition;
    and the stall check (``StallWatch``)."""
    consumer = app.consumer
    unacked = {(m.tp.topic, m.tp.partition, m.offset) for m in list(getattr(consumer, "_unacked_messages", ()))}
    for tp in list(consumer.assignment()):
        try:
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - a metric must never disturb the worker
            continue
        if position is None or highwater is None:
            continue
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))
        if tp.topic not in _STAGE_TOPICS:
            continue
        committed = getattr(consumer, "_committed_offset", {}).get(tp) or 0
        back = STALLS.check(tp, committed, position, (tp.topic, tp.partition, committed) in unacked, time.monotonic())
        if back is not None:
            log.warning(
                "%s[%d]: committed offset %d stayed behind the fetch position %d for %.0fs with "
                "its message not in flight; re-reading from %d",
                tp.topic,
                tp.partition,
                committed,
                position,
                STALLS.seconds,
                back,
            )
            metrics.ERRORS.labels("consumer", "StalledPartition").inc()
            try:
                await consumer.seek(tp, back)
            except Exception as exc:  # noqa: BLE001 - retried at the next state change
                log.warning("seek of %s[%d] failed: %s", tp.topic, tp.partition, exc)
