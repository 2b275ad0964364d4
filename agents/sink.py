"""File sink: enriched articles as JSON Lines under ``out_dir/YYYY-MM-DD/``.

Each batch becomes one file, written to a hidden temporary name, fsynced, then renamed into place,
so a reader globbing ``*.jsonl`` never sees a half-written line. A file is named after the topic
partition and the first offset it holds (``p003-000000001234.jsonl``): after a crash the same
offsets are reprocessed into the same name and replace the earlier file instead of adding copies.
Files are rolled by the UTC date the batch was written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path


def batch_path(out_dir: Path, partition: int, first_offset: int, when: datetime | None = None) -> Path:
    day = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%d")
    return Path(out_dir) / day / f"p{int(partition):03d}-{int(first_offset):012d}.jsonl"


def write_batch(out_dir: Path, partition: int, first_offset: int, lines: Iterable[bytes],
                when: datetime | None = None) -> Path:
    """Write one batch atomically; the path is derived only from numbers, never from article data."""
    path = batch_path(out_dir, partition, first_offset, when)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def read_all(out_dir: Path) -> list[bytes]:
    """Every line of every finished file, oldest day first (for tests and the demo summary)."""
    lines: list[bytes] = []
    for f in sorted(Path(out_dir).glob("*/*.jsonl")):
        lines.extend(ln for ln in f.read_bytes().splitlines() if ln.strip())
    return lines
