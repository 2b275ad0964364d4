"""Delivery: hand results to Kafka and batches to the files, retrying while the destination is down.

A message is acknowledged only after its result was delivered, so a destination that is down makes
the agent wait (with one shared exponential backoff) instead of dropping or dead-lettering. Dead
letters, the reason a message could not be processed, go out through the same retrying send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
from aiokafka.errors import KafkaError

from agents import metrics
from agents.batch_files import UnsafePath
from agents.deadletter import Outcome, minimal_dead_letter
from agents.sink import FileSink

log = logging.getLogger("newsflow.agents")
T = TypeVar("T")

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
DEADLETTER_KEY_BYTES = 65_536


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    retry_on: tuple[type[BaseException], ...],
    stage: str,
    what: str,
    level: int = logging.WARNING,
    max_delay: float = MAX_DELAY,
) -> T:
    """``await attempt()`` until it succeeds; each failure of a ``retry_on`` kind is counted and
    logged, then retried after a delay that doubles up to ``MAX_DELAY``. Cancellation passes."""
    delay = FIRST_DELAY
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except retry_on as exc:
            metrics.ERRORS.labels(stage, type(exc).__name__).inc()
            log.log(level, "%s: %s failed (%s: %s); retrying in %.1fs", stage, what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


class Delivery:
    """Where a stage's results, its dead letters and the sink's batches go."""

    def __init__(self, deadletter_topic: faust.TopicT, files: FileSink) -> None:
        self.deadletter_topic = deadletter_topic
        self.files = files
        self.sink_trouble: str | None = None  # the last file-system error while the sink cannot write

    async def send(
        self,
        topic: faust.TopicT,
        key: bytes | None,
        value: bytes,
        stage: str,
        headers: dict[str, bytes] | None = None,
    ) -> None:
        """Hand one message to the producer; while Kafka is unreachable, wait and retry (never drop)."""

        async def attempt() -> object:
            return await topic.send(key=key, value=value, headers=headers)

        await retrying(attempt, (KafkaError,), stage, f"send to {topic.get_topic_name()}")

    async def dead_letter(self, stage: str, key: bytes | None, outcome: Outcome) -> None:
        """Count, log and send the dead letter of a message ``stage`` could not process."""
        exc = outcome.error or RuntimeError("unknown failure")
        metrics.ERRORS.labels(stage, type(exc).__name__).inc()
        metrics.DEAD_LETTERED.labels(stage).inc()
        shown = key[:200] if isinstance(key, bytes) else key
        log.warning("%s: dead-lettering %r: %s: %s", stage, shown, type(exc).__name__, str(exc)[:500])
        dl_key = key[:DEADLETTER_KEY_BYTES] if isinstance(key, bytes) else key
        letter = outcome.letter or minimal_dead_letter(stage, key, exc, exc)
        try:
            data = letter.to_bytes()
        except Exception as why:  # noqa: BLE001 - the reason must still go out
            data = minimal_dead_letter(stage, key, exc, why).to_bytes()
        await self.send(self.deadletter_topic, dl_key, data, stage)

    async def write(self, partition: int, events: list[tuple[int, bytes, str | None]]) -> None:
        """Write one partition's batch to the files; on a file-system error wait and retry, so an
        unwritten batch is never acknowledged."""

        async def attempt() -> object:
            try:
                written = self.files.write(partition, events)
            except (OSError, UnsafePath) as exc:
                if self.sink_trouble is None:
                    metrics.SINK_FAILING.set(1)
                self.sink_trouble = f"{type(exc).__name__}: {exc}"
                raise
            if self.sink_trouble is not None:
                log.warning("sink: writing works again (partition %d); catching up", partition)
                self.sink_trouble = None
                metrics.SINK_FAILING.set(0)
            return written

        # Retried every few seconds at most, so the sink catches up soon after space comes back.
        await retrying(
            attempt, (OSError, UnsafePath), "sink", f"writing partition {partition}", logging.ERROR, max_delay=5.0
        )
