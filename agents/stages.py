"""The loops the agents run: one shared loop for the four processing stages, one for the file sink.

Every stage is at-least-once: a message is acknowledged only after its result was handed to the
producer, and the results are idempotent (same key, same content; the file sink skips what it
wrote already), so a crash repeats work but never loses an article.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faust
from pydantic import BaseModel

from agents import metrics
from agents.batch_files import valid_line
from agents.deadletter import Outcome, TooLarge, guarded, guarded_batch, letter_for, limits_for
from agents.delivery import Delivery
from agents.faust_fixes import withhold_ack
from agents.guard import OffLoop, StageTimeout, crash_guard

if TYPE_CHECKING:  # the settings object is passed in; agents never build one
    from newsflow.settings import Settings

SOURCE_HEADER = "nf-src"
# Stateless stages, safe to run in a worker thread (``settings.stage_threads``).
THREAD_SAFE_STAGES = frozenset({"clean", "entities", "classify"})


@dataclass(frozen=True)
class Stage:
    """One processing stage: how to read its input, the pure step, where its output goes."""

    name: str
    parse: Callable[[bytes], BaseModel]
    step: Callable[[Any], BaseModel]
    out: faust.TopicT
    # The step over several messages at once (the entities tagger is faster on a batch), run on up
    # to ``batch_size`` messages that arrive within ``batch_seconds``; None: one at a time.
    batch_step: Callable[[list[Any]], Sequence[BaseModel]] | None = None
    batch_size: int = 1
    batch_seconds: float = 0.01


def source_header(stage: str, event: faust.EventT) -> dict[str, bytes]:
    """``nf-src``: the raw message an article came from, so the sink can skip upstream copies."""
    src = (event.headers or {}).get(SOURCE_HEADER) if stage != "clean" else None
    if not src:
        src = f"{event.message.topic}:{event.message.partition}:{event.message.offset}".encode()
    return {SOURCE_HEADER: src if isinstance(src, bytes) else str(src).encode()}


async def run_stage(stage: Stage, stream: faust.StreamT, settings: Settings, delivery: Delivery) -> None:
    """Parse, run the pure step, forward or dead-letter; the loop never raises for a message.

    Parsing, size limits and serialization are ``agents.deadletter.guarded`` (the hostile-input
    tests run the same function). With ``stage_threads`` (default) the stateless stages run off
    the event loop in their own thread with a per-article budget (``stage_timeout_seconds``,
    ``agents.guard.OffLoop``), so heartbeats and commits go on during a long step. A message the
    worker process died on ``poison_crash_limit`` times is dead-lettered (``agents.guard.CrashGuard``).
    Sends are retried while Kafka is unreachable rather than dead-lettered. An article in a stage
    when the worker stops keeps its offset uncommitted (``agents.faust_fixes.withhold_ack``).
    A stage with a ``batch_step`` takes the messages that arrive together and steps them in one
    call (``guarded_batch``); each message still gets its own result or dead letter.
    """
    name = stage.name
    limits = limits_for(settings, name)
    off_loop = OffLoop(name, settings.stage_timeout_seconds) if settings.stage_threads else None
    off_loop = off_loop if name in THREAD_SAFE_STAGES else None
    crashes = crash_guard(settings.data_dir / "crashguard", settings.poison_crash_limit)

    def guard_key(event: faust.EventT) -> bytes:
        return event.key or f"{event.message.topic}:{event.message.partition}:{event.message.offset}".encode()

    async def emit(event: faust.EventT, outcome: Outcome, started: float) -> None:
        key, value = event.key, event.value
        if outcome.data is not None and len(key or b"") + len(outcome.data) > limits.max_out:
            too_large = TooLarge(f"key of {len(key or b'')} bytes plus result exceed {limits.max_out} bytes")
            outcome = Outcome(error=too_large, letter=letter_for(name, key, value, too_large, limits))
        if outcome.data is None:
            await delivery.dead_letter(name, key, outcome)
            return
        await delivery.send(stage.out, key, outcome.data, name, headers=source_header(name, event))
        metrics.PROCESSED.labels(name).inc()
        metrics.LATENCY.labels(name).observe(time.perf_counter() - started)

    async def run_guarded(keys: list[bytes], suspect: bool, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with ``keys`` noted in flight (``CrashGuard``), off the loop when the stage
        runs in its thread; a step past its budget gives its ``StageTimeout`` as the result."""
        async with crashes.isolation.step(suspect) if crashes else contextlib.nullcontext():
            if crashes:
                crashes.begin(name, *keys)
            try:
                result = await off_loop.run(fn, *args) if off_loop is not None else fn(*args)
            except StageTimeout as exc:
                result = exc
            except asyncio.CancelledError:  # a clean shutdown or rebalance, not a crash
                if crashes:
                    crashes.done(name, *keys, forget=False)
                raise
            if crashes:
                crashes.done(name, *keys)
        return result

    async def process(event: faust.EventT) -> None:
        key, value = event.key, event.value
        started = time.perf_counter()
        gkey = guard_key(event)
        poisoned = crashes.poisoned(name, gkey) if crashes else None
        if poisoned is not None:
            letter = letter_for(name, key, value, poisoned, limits)
            await delivery.dead_letter(name, key, Outcome(error=poisoned, letter=letter))
            crashes.done(name, gkey, forget=False)  # type: ignore[union-attr]
            return
        suspect = bool(crashes and crashes.crashes(name, gkey))
        outcome = await run_guarded([gkey], suspect, guarded, name, key, value, stage.parse, stage.step, limits)
        if isinstance(outcome, StageTimeout):
            outcome = Outcome(error=outcome, letter=letter_for(name, key, value, outcome, limits))
        await emit(event, outcome, started)

    async def process_batch(events: list[faust.EventT], batch_step: Callable[[list[Any]], Sequence[Any]]) -> None:
        """Several messages through one step call. A batch holding a message the worker died on
        before runs one message at a time (so the guard can tell which one kills it); so does one
        that ran past the budget (so only the slow message is dead-lettered)."""
        if len(events) == 1 or (crashes and any(crashes.crashes(name, guard_key(ev)) for ev in events)):
            for event in events:
                await process(event)
            return
        started = time.perf_counter()
        messages = [(ev.key, ev.value) for ev in events]
        keys = [guard_key(ev) for ev in events]
        outcomes = await run_guarded(
            keys, False, guarded_batch, name, messages, stage.parse, stage.step, batch_step, limits
        )
        if isinstance(outcomes, StageTimeout):
            for event in events:
                await process(event)
            return
        for event, outcome in zip(events, outcomes, strict=True):
            await emit(event, outcome, started)

    if stage.batch_step is not None and stage.batch_size > 1:
        batches = stream.take_events(stage.batch_size, within=stage.batch_seconds)  # type: ignore[attr-defined]
        async for events in batches:
            try:
                await process_batch(events, stage.batch_step)
            except asyncio.CancelledError:  # stopping mid-batch: what did not come out is read again
                for ev in events:
                    withhold_ack(ev.app.consumer, ev.message)
                raise
        return

    async for event in stream.events():
        try:
            await process(event)
        except asyncio.CancelledError:  # the worker is stopping: this article did not come out
            withhold_ack(event.app.consumer, event.message)
            raise


async def run_sink(stream: faust.StreamT, settings: Settings, delivery: Delivery) -> None:
    """Batches to files, each offset exactly once (see ``agents.sink``); offsets are committed only
    after this body returns, i.e. after the files were renamed into place."""
    limits = limits_for(settings, "sink")
    batches = stream.take_events(settings.sink_batch, within=settings.sink_flush_seconds)  # type: ignore[attr-defined]

    async def write(events: list[faust.EventT]) -> int:
        by_partition: dict[int, list[tuple[int, bytes, str | None]]] = {}
        for ev in events:
            problem = valid_line(ev.value)
            if problem is not None:
                exc = ValueError(f"not written to the files: {problem}")
                letter = letter_for("sink", ev.key, ev.value, exc, limits)
                await delivery.dead_letter("sink", ev.key, Outcome(error=exc, letter=letter))
                continue
            src = (ev.headers or {}).get(SOURCE_HEADER)
            by_partition.setdefault(ev.message.partition, []).append(
                (ev.message.offset, ev.value, src.decode("utf-8", "replace") if src else None)
            )
        for partition, evs in by_partition.items():
            await delivery.write(partition, evs)
        return sum(len(v) for v in by_partition.values())

    async for events in batches:  # take_events is on Stream, not on the StreamT protocol
        try:
            written = await write(events)
        except asyncio.CancelledError:  # stopping mid-batch: what was not written must be read again
            for ev in events:
                withhold_ack(ev.app.consumer, ev.message)
            raise
        metrics.PROCESSED.labels("sink").inc(written)
