"""Health of a worker: consumer lag per partition, the stall watch, and the ``/health`` page."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

import faust

from agents import metrics
from pipeline.model_registry import loaded

log = logging.getLogger("newsflow.agents")
LAG_INTERVAL = 5.0  # seconds between lag samples and stall checks


class StallWatch:
    """Re-reads a partition that Faust stopped feeding to its agent.

    Faust can drop a record it fetched around a worker's start or a rebalance (in several places:
    ``Consumer.getmany``, ``_drain_messages``): its fetch position moves past the record and
    nothing re-reads it until a restart. The symptom is unambiguous: the committed offset stays put
    behind the fetch position while the message at that offset is not being processed. After
    ``seconds`` in that state the partition is sought back to its committed offset, once per state;
    the re-read is at-least-once like any redelivery (every stage is idempotent by key, the file
    sink by offset). A message merely queued behind a slow one can look the same; re-reading it
    then costs a duplicate, never a loss.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since: dict[Any, tuple[int, float]] = {}
        self.done: set[tuple[Any, int]] = set()

    def check(self, tp: Any, committed: int, position: int, in_flight: bool, now: float) -> int | None:
        """The offset to seek ``tp`` back to, or None. ``in_flight``: the message at ``committed``
        is held by an agent. Pure: ``watch_consumer`` feeds it."""
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


async def watch_consumer(app: faust.App, stalls: StallWatch, stage_topics: Collection[str]) -> None:
    """``newsflow_consumer_lag``: log end minus this worker's position, per assigned partition;
    and the stall check of every stage partition (``StallWatch``)."""
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
        if tp.topic not in stage_topics:
            continue
        committed = getattr(consumer, "_committed_offset", {}).get(tp) or 0
        back = stalls.check(tp, committed, position, (tp.topic, tp.partition, committed) in unacked, time.monotonic())
        if back is not None:
            log.warning(
                "%s[%d]: committed offset %d stayed behind the fetch position %d for %.0fs with "
                "its message not in flight; re-reading from %d",
                tp.topic,
                tp.partition,
                committed,
                position,
                stalls.seconds,
                back,
            )
            metrics.ERRORS.labels("consumer", "StalledPartition").inc()
            try:
                await consumer.seek(tp, back)
            except Exception as exc:  # noqa: BLE001 - retried at the next state change
                log.warning("seek of %s[%d] failed: %s", tp.topic, tp.partition, exc)


def health_page(app_id: str, entity_mode: str, delivery: Any = None) -> Any:
    """The ``/health`` view: the worker answers, says which app it belongs to and which models it
    loaded (so a deployment can check it runs the model, not a degraded mode); 503 while the file
    sink cannot write (``delivery.sink_trouble``: disk full, read-only, ...)."""

    async def health(web: Any, request: Any) -> Any:
        models = [m.model_dump() for m in loaded()]
        body = {"status": "ok", "app": app_id, "entity_mode": entity_mode, "models": models}
        trouble = getattr(delivery, "sink_trouble", None)
        if trouble:
            return web.json({**body, "status": "failing", "sink": trouble}, status=503)
        return web.json(body)

    return health
