"""File sink: enriched articles as JSON Lines under ``out_dir/YYYY-MM-DD/``, each offset exactly once.

Layout. Each batch of one topic partition becomes one file named after the partition and the first
and last offsets it holds, ``p003-000000001234-000000001733.jsonl``, in the folder of the UTC date
the batch was written. The file is written to a hidden temporary name (``.p003-….tmp``), fsynced,
then renamed into place, so a reader globbing ``*.jsonl`` never sees a half-written line.

Exactly once in the files. Two kinds of repeats reach the sink, and both are skipped:

1. Redelivered offsets. Faust commits the offsets of a batch only after the agent body returned,
   i.e. after the file was renamed (``take_events`` acks the events when the loop body finishes,
   and a commit first flushes the producer). A crash between the rename and the commit makes
   Kafka deliver those offsets again, possibly cut into different batches. The file names are the
   record of what was written: before writing a batch of partition *p*, the sink knows the highest
   offset already in a file of *p* (its *high-water mark*) and skips every event at or below it.
   Offsets of one partition arrive in order, so the mark is enough.
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

Safety. Paths are built only from integers (partition, offsets) and the date, never from article
data; the sink refuses negative numbers, checks that the resolved folder is inside ``out_dir``
(so a symlinked day folder cannot redirect it), and creates the temporary file with
``O_EXCL | O_NOFOLLOW``. A value that is not one JSON document on one line is not written (the
agent dead-letters it) so every line of every file parses.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

_NAME = re.compile(r"^p(\d{3,})-(\d{12,})-(\d{12,})\.jsonl$")


class UnsafePath(RuntimeError):
    """The sink would have written outside its folder."""


def _day(when: datetime | None) -> str:
    return (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")


def batch_path(
    out_dir: Path, partition: int, first_offset: int, last_offset: int | None = None, when: datetime | None = None
) -> Path:
    p, first = int(partition), int(first_offset)
    last = first if last_offset is None else int(last_offset)
    if p < 0 or first < 0 or last < first:
        raise ValueError(f"bad batch coordinates partition={p} offsets={first}..{last}")
    return Path(out_dir) / _day(when) / f"p{p:03d}-{first:012d}-{last:012d}.jsonl"


def parse_name(name: str) -> tuple[int, int, int] | None:
    """``(partition, first, last)`` of a batch file name, or None for anything else."""
    m = _NAME.match(name)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def write_batch(
    out_dir: Path,
    partition: int,
    first_offset: int,
    lines: Iterable[bytes],
    when: datetime | None = None,
    last_offset: int | None = None,
) -> Path:
    """Write one batch atomically; the path is derived only from numbers, never from article data."""
    lines = list(lines)
    if last_offset is None:  # contiguous offsets
        last_offset = int(first_offset) + max(len(lines), 1) - 1
    path = batch_path(Path(out_dir), partition, first_offset, last_offset, when)
    _write_atomic(Path(out_dir), path, b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    return path


def _write_atomic(root: Path, path: Path, data: bytes) -> None:
    """``data`` to ``path`` (inside ``root``) through a temporary file, fsync and rename."""
    root.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(exist_ok=True)
    if not _inside(root, path.parent):
        raise UnsafePath(f"{path.parent} resolves outside {root}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left over by an earlier process with the same pid
    fd = os.open(tmp, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def valid_line(value: bytes | None) -> str | None:
    """Why ``value`` cannot be one JSON Lines line, or None when it can."""
    if value is None:
        return "no value"
    if b"\n" in value or b"\r" in value:
        return "value spans several lines"
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return f"value is not JSON: {exc}"
    return None


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
        self._seen: dict[int, dict[str, int]] = {}
        self.skipped = 0  # redelivered offsets already in a file
        self.copies = 0  # upstream copies of an input already in a file

    def forget(self) -> None:
        """Drop what is remembered about every partition (call on every rebalance)."""
        self._high.clear()
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
            for (_, _first, last), f in files:
                if last < high - self.window:
                    continue
                side = f.with_name(f".{f.name[:-6]}.src")
                if not side.exists():
                    continue
                for line in side.read_text().splitlines():
                    off_s, _, src = line.partition(" ")
                    if src and src != "-":
                        seen[src] = int(off_s)
        self._high[partition] = high
        self._seen[partition] = seen

    def high_water(self, partition: int) -> int:
        """Highest offset of ``partition`` already in a file (-1 if none); scans once, then cached."""
        if partition not in self._high:
            self._scan(partition)
        return self._high[partition]

    def write(
        self,
        partition: int,
        events: Sequence[tuple[int, bytes] | tuple[int, bytes, str | None]],
        when: datetime | None = None,
    ) -> Path | None:
        """Write the events not yet in a file as one batch; None if there were none."""
        high = self.high_water(partition)
        seen = self._seen[partition]
        fresh: list[tuple[int, bytes, str | None]] = []
        batch_sources: set[str] = set()
        for ev in sorted(events, key=lambda e: e[0]):
            off, value, src = ev[0], ev[1], (ev[2] if len(ev) > 2 else None)  # type: ignore[misc]
            if off <= high:
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
        _write_atomic(self.out_dir, path.with_name(f".{path.name[:-6]}.src"), side)
        _write_atomic(self.out_dir, path, b"".join(v.rstrip(b"\n") + b"\n" for _, v, _ in fresh))
        self._high[partition] = last
        for o, _, src in fresh:
            if src is not None:
                seen[src] = o
        if len(seen) > 2 * self.window:
            floor = last - self.window
            self._seen[partition] = {k: v for k, v in seen.items() if v >= floor}
        return path
