"""File sink: enriched articles as JSON Lines under ``out_dir/YYYY-MM-DD/``, each offset exactly once.

Files, their names and atomic writes are ``agents.batch_files``.

Exactly once in the files. Two kinds of repeats reach the sink, and both are skipped:

1. Redelivered offsets. Faust commits the offsets of a batch only after the agent body returned,
   i.e. after the file was renamed (``take_events`` acks the events when the loop body finishes,
   and a commit first flushes the producer). A crash between the rename and the commit makes
   Kafka deliver those offsets again, possibly cut into different batches. The sidecars are the
   record of what was written: the sink knows the set of offsets of *p* already in a file (kept
   as ranges) and skips exactly those. A high-water mark would not do: offsets do not always
   arrive in order. Faust can drop a fetched record around a start or a rebalance; the stall
   watch (``agents.stall.StallWatch``) then seeks back and the record arrives *after* later
   offsets were written. Skipping everything at or below the highest written offset lost that
   record from the files.
2. Upstream copies. The stages are at-least-once too: a stage that crashes re-sends what it had
   produced since its last commit, so the same article appears again on the enriched topic at a
   *later* offset. Every stage forwards an ``nf-src`` header naming the raw message the article
   came from (raw partition:offset, set by the clean stage); the sink remembers the sources it
   wrote for the last ``sink_dedup_window`` offsets of each partition and skips a source it has
   written already. An article replayed on purpose is a new raw message, so it is written again.
   Articles keep their key through every stage, so all copies land in the same partition.

What was written is recovered from the files: each batch ``p….jsonl`` has a hidden sidecar
``.p….src`` ("offset source" per line) renamed into place just before it. On the first batch of a
partition after start-up or after any rebalance (another worker may have written the partition
meanwhile) the sink scans ``out_dir/*/p<p>-*`` for the mark and reads the sidecars of the recent
files; it removes stale temporary files and orphan sidecars of a crashed writer. One ``out_dir``
therefore belongs to one enriched topic (one ``topic_prefix``): if that topic is recreated its
offsets restart, so start a fresh ``out_dir`` too. Messages without a key may be spread over
partitions by the producer, so their upstream copies are only caught within one partition.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from agents.batch_files import batch_path, parse_name, write_atomic


class OffsetRanges:
    """A set of offsets stored as sorted, disjoint ``[start, end]`` ranges: what one partition wrote
    is nearly contiguous, so this stays a few entries where a set would hold every offset."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __contains__(self, offset: int) -> bool:
        i = bisect.bisect_right(self.starts, offset) - 1
        return i >= 0 and offset <= self.ends[i]

    def add(self, offset: int) -> None:
        if offset in self:
            return
        i = bisect.bisect_right(self.starts, offset)  # ranges before i start at or below offset
        joins_left = i > 0 and self.ends[i - 1] == offset - 1
        joins_right = i < len(self.starts) and self.starts[i] == offset + 1
        if joins_left and joins_right:
            self.ends[i - 1] = self.ends[i]
            del self.starts[i], self.ends[i]
        elif joins_left:
            self.ends[i - 1] = offset
        elif joins_right:
            self.starts[i] = offset
        else:
            self.starts.insert(i, offset)
            self.ends.insert(i, offset)

    def add_range(self, first: int, last: int) -> None:
        for offset in range(first, last + 1):
            self.add(offset)

    def drop_below(self, floor: int) -> None:
        keep = [(a, b) for a, b in zip(self.starts, self.ends, strict=True) if b >= floor]
        self.starts = [max(a, floor) for a, _ in keep]
        self.ends = [b for _, b in keep]

    def __len__(self) -> int:
        return len(self.starts)


class FileSink:
    """Writes batches of ``(offset, value[, source])`` per partition, each offset and each source once.

    ``source`` identifies the input the article was made from (the ``nf-src`` header: raw topic
    partition and offset); copies that reprocessing upstream put on the topic at later offsets
    share it and are skipped. It is remembered for the last ``window`` offsets of each partition.
    """

    def __init__(self, out_dir: Path, window: int = 100_000) -> None:
        self.out_dir = Path(out_dir)
        self.window = window
        self._high: dict[int, int] = {}
        self._written: dict[int, OffsetRanges] = {}
        self._floor: dict[int, int] = {}  # offsets below it count as written (older than the window)
        self._seen: dict[int, dict[str, int]] = {}
        self.skipped = 0  # redelivered offsets already in a file
        self.copies = 0  # upstream copies of an input already in a file

    def forget(self) -> None:
        """Drop what is remembered about every partition (call on every rebalance)."""
        self._high.clear()
        self._written.clear()
        self._floor.clear()
        self._seen.clear()

    def _scan(self, partition: int) -> None:
        high, files = -1, []
        seen: dict[str, int] = {}
        if self.out_dir.is_dir():
            pat = f"p{int(partition):03d}-"
            for f in self.out_dir.glob(f"*/{pat}*.jsonl"):
                parsed = parse_name(f.name)
                if parsed and parsed[0] == partition:
                    high = max(high, parsed[2])
                    files.append((parsed, f))
            for junk in self.out_dir.glob(f"*/.{pat}*"):
                if junk.suffix == ".tmp" or (
                    junk.suffix == ".src" and not junk.with_name(junk.name[1:-4] + ".jsonl").exists()
                ):
                    junk.unlink(missing_ok=True)
        floor = high - self.window
        written = OffsetRanges()
        for (_, first, last), f in files:
            if last < floor:
                continue
            side = f.with_name(f".{f.name[:-6]}.src")
            if not side.exists():  # written without a sidecar: take the whole range as written
                written.add_range(max(first, floor), last)
                continue
            for line in side.read_text().splitlines():
                off_s, _, src = line.partition(" ")
                written.add(int(off_s))
                if src and src != "-":
                    seen[src] = int(off_s)
        self._high[partition] = high
        self._written[partition] = written
        self._floor[partition] = floor
        self._seen[partition] = seen

    def high_water(self, partition: int) -> int:
        """Highest offset of ``partition`` already in a file (-1 if none); scans once, then cached."""
        if partition not in self._high:
            self._scan(partition)
        return self._high[partition]

    def is_written(self, partition: int, offset: int) -> bool:
        """Whether ``offset`` of ``partition`` is already in a file (or older than the window)."""
        self.high_water(partition)
        return offset < self._floor[partition] or offset in self._written[partition]

    def write(
        self,
        partition: int,
        events: Sequence[tuple[int, bytes] | tuple[int, bytes, str | None]],
        when: datetime | None = None,
    ) -> Path | None:
        """Write the events not yet in a file as one batch; None if there were none."""
        high = self.high_water(partition)
        seen = self._seen[partition]
        written = self._written[partition]
        fresh: list[tuple[int, bytes, str | None]] = []
        batch_sources: set[str] = set()
        for ev in sorted(events, key=lambda e: e[0]):
            off, value, src = ev[0], ev[1], (ev[2] if len(ev) > 2 else None)  # type: ignore[misc]
            if self.is_written(partition, off):
                self.skipped += 1
            elif src is not None and (src in seen or src in batch_sources):
                self.copies += 1
            else:
                fresh.append((off, value, src))
                if src is not None:
                    batch_sources.add(src)
        if not fresh:
            return None
        first, last = fresh[0][0], fresh[-1][0]
        path = batch_path(self.out_dir, partition, first, last, when)
        side = "".join(f"{o} {src or '-'}\n" for o, _, src in fresh).encode()
        write_atomic(self.out_dir, path.with_name(f".{path.name[:-6]}.src"), side)
        write_atomic(self.out_dir, path, b"".join(v.rstrip(b"\n") + b"\n" for _, v, _ in fresh))
        high = self._high[partition] = max(high, last)
        for o, _, src in fresh:
            written.add(o)
            if src is not None:
                seen[src] = o
        if len(seen) > 2 * self.window or len(written) > 1000:
            floor = max(self._floor[partition], high - self.window)
            self._seen[partition] = {k: v for k, v in seen.items() if v >= floor}
            written.drop_below(floor)
            self._floor[partition] = floor
        return path
