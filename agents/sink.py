"""File sink: enriched articles as JSON Lines under ``out_dir/YYYY-MM-DD/``, each offset exactly once.

Layout. Each batch of one topic partition becomes one file named after the partition and the first
and last offsets it holds, ``p003-000000001234-000000001733.jsonl``, in the folder of the UTC date
the batch was written. The file is written to a hidden temporary name (``.p003-….tmp``), fsynced,
then renamed into place, so a reader globbing ``*.jsonl`` never sees a half-written line.

Exactly once in the files. The sink is at-least-once on the Kafka side: Faust commits the offsets
of a batch only after the agent body returned, i.e. after the file was renamed (``take_events``
acks the events when the loop body finishes, and a commit first flushes the producer). A crash
between the rename and the commit makes Kafka deliver those offsets again, possibly cut into
different batches. So the file names are the record of what was written: before writing a batch
of partition *p*, the sink knows the highest offset already in a file of *p* (its *high-water
mark*, found by scanning ``out_dir/*/p<p>-*-*.jsonl`` once and then kept in memory) and skips
every event at or below it. Offsets of one partition arrive in order, so the mark is enough. The
memory is dropped whenever partitions are assigned or revoked (another worker may have written
the partition meanwhile) and rebuilt by the next scan. Stale temporary files of a crashed writer
are removed by that scan. One ``out_dir`` therefore belongs to one enriched topic (one
``topic_prefix``): if that topic is deleted and recreated its offsets restart, so start a fresh
``out_dir`` too.

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


def batch_path(out_dir: Path, partition: int, first_offset: int, last_offset: int | None = None,
               when: datetime | None = None) -> Path:
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


def write_batch(out_dir: Path, partition: int, first_offset: int, lines: Iterable[bytes],
                when: datetime | None = None, last_offset: int | None = None) -> Path:
    """Write one batch atomically; the path is derived only from numbers, never from article data."""
    root = Path(out_dir)
    lines = list(lines)
    if last_offset is None:  # contiguous offsets
        last_offset = int(first_offset) + max(len(lines), 1) - 1
    path = batch_path(root, partition, first_offset, last_offset, when)
    root.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(exist_ok=True)
    if not _inside(root, path.parent):
        raise UnsafePath(f"{path.parent} resolves outside {root}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left over by an earlier process with the same pid
    fd = os.open(tmp, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


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
    """Writes batches of ``(offset, value)`` per partition, skipping offsets already in a file."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._high: dict[int, int] = {}
        self.skipped = 0

    def forget(self) -> None:
        """Drop the remembered high-water marks (call on every rebalance)."""
        self._high.clear()

    def high_water(self, partition: int) -> int:
        """Highest offset of ``partition`` already in a file (-1 if none); scans once, then cached."""
        if partition not in self._high:
            high = -1
            if self.out_dir.is_dir():
                for f in self.out_dir.glob(f"*/p{int(partition):03d}-*.jsonl"):
                    parsed = parse_name(f.name)
                    if parsed and parsed[0] == partition:
                        high = max(high, parsed[2])
                for tmp in self.out_dir.glob(f"*/.p{int(partition):03d}-*.tmp"):
                    tmp.unlink(missing_ok=True)
            self._high[partition] = high
        return self._high[partition]

    def write(self, partition: int, events: Sequence[tuple[int, bytes]],
              when: datetime | None = None) -> Path | None:
        """Write the events above the partition's high-water mark as one file; None if none were."""
        high = self.high_water(partition)
        fresh = sorted(((o, v) for o, v in events if o > high), key=lambda e: e[0])
        self.skipped += len(events) - len(fresh)
        if not fresh:
            return None
        path = write_batch(self.out_dir, partition, fresh[0][0], [v for _, v in fresh], when,
                           last_offset=fresh[-1][0])
        self._high[partition] = fresh[-1][0]
        return path


def read_all(out_dir: Path) -> list[bytes]:
    """Every line of every finished file, oldest day first (for tests and the demo summary)."""
    lines: list[bytes] = []
    for f in sorted(Path(out_dir).glob("*/*.jsonl")):
        lines.extend(ln for ln in f.read_bytes().splitlines() if ln.strip())
    return lines
