"""The dedup index of a worker: ``pipeline.dedup.DedupIndex`` over Faust tables.

Exact hashes and seen articles live in two tables over the dedup partition(s) (keys and values
are plain JSON), backed by changelog topics. The LSH band buckets are derived data: persisting
them would mean one changelog record per band per article, so they live in memory, compactly, and
are rebuilt from ``dedup-seen`` (which stores every signature) after each rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import faust

from pipeline.dedup import DedupConfig, DedupIndex
from pipeline.enrich import dedup_step
from schemas import ClassifiedArticle, EnrichedArticle

log = logging.getLogger("newsflow.agents")


class CompactBuckets(MutableMapping[str, list[list[Any]]]):
    """Band buckets stored compactly: the band key ``"NN:hex16"`` as one int and a bucket as a flat
    tuple ``(id, t, id, t, ...)`` (README "Scaling out" has the memory per article)."""

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

    def clear(self) -> None:
        self._d.clear()


class TimerDeletes(MutableMapping[str, Any]):
    """A dedup table as the expiry timer sees it. Faust takes the changelog partition of a write
    from the event being processed and a timer has none (``del table[key]`` there raises "Cannot
    modify table key from outside of stream iteration" and crashes the worker). So a key is deleted
    from the store directly and its tombstone sent explicitly to each dedup partition this worker
    owns (a key lives in the partition of the event that wrote it; a tombstone for a key a
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


class DedupTables:
    """The worker's ``DedupIndex``: tables for exact and seen, in-memory band buckets."""

    def __init__(self, app: faust.App, partitions: int, config: DedupConfig) -> None:
        schema: faust.Schema = faust.Schema(
            key_type=str, value_type=None, key_serializer="json", value_serializer="json"
        )
        self.exact = app.Table("dedup-exact", partitions=partitions, schema=schema)
        self.seen = app.Table("dedup-seen", partitions=partitions, schema=schema)
        self.config = config
        self._index = DedupIndex(config, exact=self.exact, seen=self.seen, bands=CompactBuckets())
        self.stale = True

    def mark_stale(self) -> None:
        """Partitions moved: rebuild the band buckets before the next use."""
        self.stale = True

    def index(self) -> DedupIndex:
        if self.stale:
            n = self._index.rebuild()
            self.stale = False
            log.info("dedup: band index rebuilt from %d articles", n)
        return self._index

    def step(self, article: ClassifiedArticle) -> EnrichedArticle:
        """What the dedup agent does to one article (inside a stream event)."""
        return dedup_step(article, self.index())

    def expire(self, owned: set[int]) -> int | None:
        """Forget articles published more than the window before the newest one, from a timer;
        ``owned`` are the dedup partitions this worker holds. None when it holds none."""
        if not owned:
            return None
        bands = self.index().bands
        view = DedupIndex(
            self.config, exact=TimerDeletes(self.exact, owned), seen=TimerDeletes(self.seen, owned), bands=bands
        )
        newest = view.newest()
        return None if newest is None else view.expire(newest)
