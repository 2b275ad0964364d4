"""``newsflow enrich``: every stage, in order, in one process, without Kafka.

For batch jobs, debugging and evaluation. It reads the same inputs as ``replay`` and runs the same
stage functions as the agents (``pipeline.enrich``). Inputs a stage rejects are reported on stderr
with the reason and counted, never dropped silently.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from newsflow.backlog import Unreadable, read_backlog
from newsflow.settings import get_settings
from pipeline.enrich import Enricher
from pipeline.model_registry import ModelMissingError
from schemas import EnrichedArticle, RawArticle


@dataclass
class OfflineStats:
    written: int = 0
    rejected: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        return f"enriched {self.written} articles in {self.seconds:.1f}s ({rate:.0f}/s); {self.rejected} rejected"


def enrich_iter(
    items: Iterable[RawArticle | Unreadable], stats: OfflineStats | None = None, enricher: Enricher | None = None
) -> Iterable[EnrichedArticle]:
    """Enriched articles in input order, ``settings.entity_batch`` at a time (the tagger is faster
    on a batch, as in the entities agent)."""
    settings = get_settings()
    enricher = enricher or Enricher(entity_mode=settings.entity_mode)
    stats = stats or OfflineStats()
    for chunk in _chunks(items, settings.entity_batch):
        raws = [item for item in chunk if not isinstance(item, Unreadable)]
        results = iter(enricher.batch(raws))
        for item in chunk:
            if isinstance(item, Unreadable):
                stats.rejected += 1
                print(f"rejected {item.where}: {type(item.error).__name__}: {item.error}", file=sys.stderr)
                continue
            out = next(results)
            if isinstance(out, ModelMissingError):
                raise out  # every later article would fail the same way: stop, naming the missing file
            if isinstance(out, Exception):  # reported with its reason, the batch goes on
                stats.rejected += 1
                print(f"rejected {item.id}: {type(out).__name__}: {out}", file=sys.stderr)
                continue
            stats.written += 1
            yield out


def _chunks(items: Iterable[RawArticle | Unreadable], n: int) -> Iterator[list[RawArticle | Unreadable]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def enrich_files(paths: list[Path], output: Path, progress: bool = True) -> OfflineStats:
    stats = OfflineStats()
    started = time.monotonic()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "wb") as fh:
        for art in tqdm(
            enrich_iter(read_backlog(paths), stats), unit="art", disable=not progress, file=sys.stderr, desc="enrich"
        ):
            fh.write(art.to_bytes() + b"\n")
    tmp.replace(output)
    stats.seconds = time.monotonic() - started
    return stats
