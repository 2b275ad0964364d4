"""Batch files of the sink: where a batch goes, how it is written atomically, what may be a line.

Layout. Each batch of one topic partition becomes one file named after the partition and the first
and last offsets it holds, ``p003-000000001234-000000001733.jsonl``, in the folder of the UTC date
the batch was written. The file is written to a hidden temporary name (``.p003-….tmp``), fsynced,
then renamed into place, so a reader globbing ``*.jsonl`` never sees a half-written line.

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


def write_atomic(root: Path, path: Path, data: bytes) -> None:
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
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk gets its space back at once
        raise
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
