"""``newsflow replay``: produce a backlog to the raw topic, paced, with progress and a summary."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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

    def line(self) -> str:
        rate = self.produced / self.seconds if self.seconds else 0.0
        return (f"replayed {self.produced} articles ({self.bytes / 1e6:.2f} MB) in {self.seconds:.1f}s "
                f"= {rate:.0f}/s; {self.dead_lettered} unreadable sent to the dead-letter topic")


def _pace_key_sortable(item: RawArticle | Unreadable) -> tuple[int, float]:
    if isinstance(item, RawArticle) and item.published_at is not None:
        return (0, item.published_at.timestamp())
    return (1, 0.0)


async def replay(
    s: Settings, paths: list[Path], *, rate: float | None = None, speed: float | None = None,
    progress: bool = True, keep_ids: bool = False,
) -> ReplaySummary:
    """Produce every article under ``paths``, keyed by its stable id.

    ``rate`` caps articles per second. ``speed`` replays at the original publication pace times the
    factor (so it must read the whole backlog first to order it); items without a date go last.
    """
    await ensure_topics(s)
    items = read_backlog(paths)
    if speed:
        items = iter(sorted(items, key=_pace_key_sortable))
    summary = ReplaySummary()
    prod = producer(s)
    await prod.start()
    started = time.monotonic()
    first_pub: float | None = None
    bar = tqdm(unit="art", disable=not progress, file=sys.stderr, desc="replay")
    try:
        for n, item in enumerate(items):
            if isinstance(item, Unreadable):
                dl = dead_letter("replay", item.where.encode(), item.raw, item.error)
                await prod.send(s.topic("deadletter"), key=item.where.encode(), value=dl.to_bytes())
                summary.dead_lettered += 1
                continue
            if rate:
                delay = started + n / rate - time.monotonic()
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
            await prod.send(s.topic("raw"), key=item.id.encode(), value=value)
            summary.produced += 1
            summary.bytes += len(value)
            if keep_ids:
                summary.ids.append(item.id)
            bar.update(1)
        await prod.flush()
    finally:
        bar.close()
        await prod.stop()
    summary.seconds = time.monotonic() - started
    return summary
