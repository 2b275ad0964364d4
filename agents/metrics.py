"""Prometheus series per stage, served by each worker at ``/metrics``."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

PROCESSED = Counter("newsflow_processed_total", "Messages a stage processed", ["stage"])
ERRORS = Counter("newsflow_errors_total", "Messages a stage failed on", ["stage", "error"])
DEAD_LETTERED = Counter("newsflow_dead_lettered_total", "Messages sent to the dead-letter topic", ["stage"])
LATENCY = Histogram(
    "newsflow_stage_seconds",
    "Time a stage spent on one message",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONSUMER_LAG = Gauge("newsflow_consumer_lag", "Messages behind the log end", ["topic", "partition"])
SINK_FAILING = Gauge(
    "newsflow_sink_failing", "1 while the file sink cannot write (disk full, read-only, ...); /health is not ok then"
)


async def metrics_page(web: Any, request: Any) -> Any:
    """The ``/metrics`` view: every series above in Prometheus' text format."""
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
