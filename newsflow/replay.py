"""``newsflow replay``: produce a backlog to the raw topic, paced, with progress and a summary.

Resuming: with ``--checkpoint FILE`` (or ``settings.replay_checkpoint``) the replay records, at
least once a second and when it stops (error, Ctrl-C, SIGTERM), how many backlog items from the
start were produced *and acknowledged by the broker*. A rerun with the same file and the same
paths skips that many items, so an interrupted replay goes on where it stopped; a finished one
produces nothing more. Items are read in a stable order (``read_backlog``), which is what makes a
count enough. Anything sent but not yet acknowledged at the interruption is sent again: the raw
topic is at-least-once, keyed by the stable article id.

Reprocessing: ``newsflow reprocess`` (``reprocess_offsets``) moves a consumer group's committed
offsets so the workers read ``newsflow.raw`` again from the beginning and skip what is waiting on
the intermediate topics; see docs/consumers.md "Backlogs and reprocessing".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from tqdm import tqdm

from agents.deadletter import dead_letter
from newsflow.backlog import Unreadable, read_backlog
from newsflow.kafka import ensure_topics, producer
from newsflow.settings import Settings
from schemas import RawArticle


@dataclass
class ReplaySummary:
    produced: int = 0
    dead_lettered: int = 0
    bytes: int = 0
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)
    skipped: int = 0
    checkpoint: Path | None = None

    def line(self) -> str:
        rate = self.produced / self.seconds if self.seconds else 0.0
        line = (
            f"replayed {self.produced} articles ({self.bytes / 1e6:.2f} MB) in {self.seconds:.1f}s "
            f"= {rate:.0f}/s; {self.dead_lettered} unreadable sent to the dead-letter topic"
        )
        if self.checkpoint is not None:
            line += f"; skipped {self.skipped} already acknowledged (checkpoint {self.checkpoint})"
        return line


class CheckpointMismatch(ValueError):
    """The checkpoint file belongs to a replay of other paths."""


class Checkpoint:
    """How many backlog items, counted from the start, were produced and acknowledged.

    The file is small JSON, replaced atomically: ``{"paths": [...], "acked": N, "done": bool}``.
    """

    def __init__(self, path: Path, paths: list[Path]) -> None:
        self.path = Path(path)
        self.paths = [str(p) for p in paths]
        self.acked = 0
        self.done = False
        if self.path.exists():
            data = orjson.loads(self.path.read_bytes())
            if data.get("paths") != self.paths:
                raise CheckpointMismatch(
                    f"{self.path} records a replay of {data.get('paths')}, not {self.paths}; delete it to start over"
                )
            self.acked = int(data.get("acked", 0))
            self.done = bool(data.get("done", False))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(
            orjson.dumps({"paths": self.paths, "acked": self.acked, "done": self.done, "updated": time.time()})
        )
        os.replace(tmp, self.path)


def _pace_key_sortable(item: RawArticle | Unreadable) -> tuple[int, float]:
    if isinstance(item, RawArticle) and item.published_at is not None:
        return (0, item.published_at.timestamp())
    return (1, 0.0)


async def replay(
    s: Settings,
    paths: list[Path],
    *,
    rate: float | None = None,
    speed: float | None = None,
    progress: bool = True,
    keep_ids: bool = False,
    checkpoint: Path | None = None,
    stop_after: int | None = None,
) -> ReplaySummary:
    """Produce every article under ``paths``, keyed by its stable id.

    ``rate`` caps articles per second. ``speed`` replays at the original publication pace times the
    factor (so it must read the whole backlog first to order it); items without a date go last.
    ``checkpoint`` (default: ``s.replay_checkpoint``) makes the replay resumable (see the module
    docstring). ``stop_after`` stops after that many items, as an interruption would (tests).
    """
    checkpoint = checkpoint if checkpoint is not None else s.replay_checkpoint
    ckpt = Checkpoint(checkpoint, paths) if checkpoint is not None else None
    await ensure_topics(s)
    items = read_backlog(paths)
    if speed:
        items = iter(sorted(items, key=_pace_key_sortable))
    summary = ReplaySummary(checkpoint=checkpoint)
    skip = ckpt.acked if ckpt is not None else 0
    prod = producer(s)
    await prod.start()
    started = time.monotonic()
    first_pub: float | None = None
    bar = tqdm(unit="art", disable=not progress, file=sys.stderr, desc="replay")
    # (item index, delivery future) in send order; the acknowledged prefix is what a rerun skips.
    pending: deque[tuple[int, asyncio.Future]] = deque()
    last_save = time.monotonic()

    def advance() -> None:
        while pending and pending[0][1].done():
            n, fut = pending.popleft()
            if fut.cancelled() or fut.exception() is not None:
                pending.appendleft((n, fut))
                return
            if ckpt is not None:
                ckpt.acked = n + 1

    undo_signal = _cancel_on_sigterm()
    try:
        for n, item in enumerate(items):
            if n < skip:
                summary.skipped += 1
                continue
            if stop_after is not None and n >= stop_after:
                break
            if isinstance(item, Unreadable):
                dl = dead_letter("replay", item.where.encode(), item.raw, item.error)
                fut = await prod.send(s.topic("deadletter"), key=item.where.encode(), value=dl.to_bytes())
                pending.append((n, fut))
                summary.dead_lettered += 1
                continue
            if rate:
                delay = started + (n - skip) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if speed and item.published_at is not None:
                ts = item.published_at.timestamp()
                first_pub = ts if first_pub is None else first_pub
                due = started + (ts - first_pub) / speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            value = item.to_bytes()
            fut = await prod.send(s.topic("raw"), key=item.id.encode(), value=value)
            pending.append((n, fut))
            summary.produced += 1
            summary.bytes += len(value)
            if keep_ids:
                summary.ids.append(item.id)
            bar.update(1)
            advance()
            if ckpt is not None and time.monotonic() - last_save >= 1.0:
                ckpt.save()
                last_save = time.monotonic()
        else:
            if ckpt is not None:
                ckpt.done = True
        await prod.flush()
        if pending:
            await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
    finally:
        undo_signal()
        bar.close()
        with contextlib.suppress(Exception):
            await prod.stop()
        if ckpt is not None:
            advance()
            if pending:  # something was not acknowledged: not finished whatever the loop did
                ckpt.done = False
            ckpt.save()
    summary.seconds = time.monotonic() - started
    return summary


def _cancel_on_sigterm():  # type: ignore[no-untyped-def]
    """``docker stop`` sends SIGTERM: cancel the replay so the checkpoint is written on the way out."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)  # type: ignore[union-attr]
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
        return lambda: None
    return lambda: loop.remove_signal_handler(signal.SIGTERM)


# --- Reprocessing --------------------------------------------------------------------------------

REPROCESS_FROM_START = ("raw",)
REPROCESS_SKIP = ("cleaned", "tagged", "classified", "enriched")


async def reprocess_offsets(s: Settings, group: str | None = None) -> dict[str, dict[int, int]]:
    """Commit offsets for consumer ``group`` (default: the workers' ``app_id``) so that the workers
    read the raw topic from its first offset and skip whatever waits on the intermediate topics
    (the raw topic alone regenerates it). The workers of the group must be stopped: Kafka refuses
    offset commits to a group with active members. A new group id (``NEWSFLOW_APP_ID``) also gives
    fresh tables, so the dedup stage judges every article again as if it were the first time.

    The ``kafka-consumer-groups.sh --reset-offsets`` equivalent is in docs/consumers.md.
    Returns the committed offsets per topic and partition.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap,
        group_id=group or s.app_id,
        enable_auto_commit=False,
        **s.kafka_client_kwargs(),
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - first contact
        offsets: dict[TopicPartition, int] = {}
        for stages, where in ((REPROCESS_FROM_START, "beginning"), (REPROCESS_SKIP, "end")):
            tps = [
                TopicPartition(s.topic(st), p)
                for st in stages
                for p in sorted(consumer.partitions_for_topic(s.topic(st)) or ())
            ]
            if not tps:
                continue
            if where == "beginning":
                offsets.update(await consumer.beginning_offsets(tps))
            else:
                offsets.update(await consumer.end_offsets(tps))
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in offsets.items()})
        out: dict[str, dict[int, int]] = {}
        for tp, off in sorted(offsets.items()):
            out.setdefault(tp.topic, {})[tp.partition] = off
        return out
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m newsflow.replay reprocess [--group G]`` (the same as ``newsflow reprocess``)."""
    from newsflow.settings import get_settings

    ap = argparse.ArgumentParser(prog="python -m newsflow.replay")
    ap.add_argument("action", choices=["reprocess"])
    ap.add_argument("--group", help="consumer group (default: NEWSFLOW_APP_ID)")
    a = ap.parse_args(argv)
    for topic, parts in asyncio.run(reprocess_offsets(get_settings(), a.group)).items():
        print(f"{topic:28s} " + " ".join(f"p{p}={o}" for p, o in parts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
