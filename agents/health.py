"""Health of a worker: consumer lag per partition, the stall watch, and the ``/health`` page."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import faust

from agents import metrics
from agents.stall import StallWatch, reread_stalled
from pipeline.model_registry import loaded

log = logging.getLogger("newsflow.agents")
LAG_INTERVAL = 5.0  # seconds between lag samples and stall checks


async def watch_consumer(app: faust.App, stalls: StallWatch, stage_topics: Collection[str]) -> None:
    """``newsflow_consumer_lag``: log end minus this worker's position, per assigned partition;
    and the stall check of every stage partition (``StallWatch``)."""
    consumer = app.consumer
    for tp in list(consumer.assignment()):
        try:
            position = await consumer.position(tp)
            highwater = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - a metric must never disturb the worker
            continue
        if position is None or highwater is None:
            continue
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))
    await reread_stalled(app, stage_topics, stalls, log)


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
