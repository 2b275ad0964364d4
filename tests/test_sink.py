"""The file sink: atomic batches, each offset exactly once, never outside its folder."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.batch_files import UnsafePath, batch_path, parse_name, valid_line
from agents.sink import FileSink
from testing import read_all

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def test_batch_is_written_whole_and_named_by_its_offsets(tmp_path: Path) -> None:
    p = FileSink(tmp_path).write(3, [(120, b'{"id":"a"}'), (121, b'{"id":"b"}\n')], WHEN)
    assert p is not None
    assert p == tmp_path / "2024-05-01" / "p003-000000000120-000000000121.jsonl"
    assert p.read_bytes() == b'{"id":"a"}\n{"id":"b"}\n'
    assert parse_name(p.name) == (3, 120, 121)
    assert not list(tmp_path.rglob("*.tmp"))


def test_path_depends_only_on_numbers(tmp_path: Path) -> None:
    p = batch_path(tmp_path, 0, 7, 9)
    assert p.parent.parent == tmp_path and p.name == "p000-000000000007-000000000009.jsonl"
    for bad in [(-1, 0, 0), (0, -5, 0), (0, 10, 9)]:
        with pytest.raises(ValueError):
            batch_path(tmp_path, *bad)


def test_redelivered_offsets_are_written_once(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    ev = [(o, b'{"id":"%d"}' % o) for o in range(100, 110)]
    assert sink.write(0, ev[:6], WHEN) is not None
    # After a crash Kafka redelivers from the last commit, cut into other batches.
    sink2 = FileSink(tmp_path)
    assert sink2.write(0, ev[3:8], WHEN).name == "p000-000000000106-000000000107.jsonl"
    assert sink2.write(0, ev[2:5], WHEN) is None and sink2.skipped == 6
    sink2.write(1, ev[:2], WHEN)  # another partition has its own offsets
    sink2.forget()
    sink2.write(0, ev, WHEN)
    ids = read_all(tmp_path)
    assert len(ids) == 12 and len(set(ids)) == 10


def test_stale_temp_files_are_removed_on_scan(tmp_path: Path) -> None:
    day = tmp_path / "2024-05-01"
    day.mkdir()
    (day / ".p002-000000000001-000000000004.jsonl.999.tmp").write_bytes(b'{"half')
    assert FileSink(tmp_path).high_water(2) == -1
    assert not list(tmp_path.rglob("*.tmp"))


def test_sink_never_writes_outside_its_folder(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    # A day folder that is a symlink to somewhere else is refused.
    os.symlink(elsewhere, out / "2024-05-01")
    with pytest.raises(UnsafePath):
        FileSink(out).write(0, [(0, b"{}")], WHEN)
    assert not list(elsewhere.iterdir())
    # Hostile ids and keys are data, never part of a path.
    sink = FileSink(tmp_path / "out2")
    hostile = [b'{"id":"../../etc/passwd"}', b'{"id":"a/b\\n../c"}', b'{"id":"/abs/x"}']
    sink.write(0, list(enumerate(hostile)), WHEN)
    files = [p for p in (tmp_path / "out2").rglob("*") if p.is_file()]
    assert {f.relative_to(tmp_path / "out2").parts[0] for f in files} == {"2024-05-01"}
    assert len(read_all(tmp_path / "out2")) == 3


def test_only_single_line_json_is_written() -> None:
    assert valid_line(b'{"id":"a"}') is None
    assert valid_line(b'{"id":\n"a"}') is not None
    assert valid_line(b"not json") is not None
    assert valid_line(None) is not None
    assert valid_line(b"") is not None


def test_upstream_copies_are_written_once_even_after_restart(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    sink.write(0, [(0, b'{"id":"a"}', "raw:0:10"), (1, b'{"id":"b"}', "raw:1:4")], WHEN)
    # A stage crashed and re-sent "a" later; a replay of "a" on purpose is a new raw message.
    sink.write(0, [(2, b'{"id":"a"}', "raw:0:10"), (3, b'{"id":"a"}', "raw:0:99")], WHEN)
    restarted = FileSink(tmp_path)
    restarted.write(0, [(4, b'{"id":"b"}', "raw:1:4"), (5, b'{"id":"c"}', None)], WHEN)
    assert read_all(tmp_path) == [b'{"id":"a"}', b'{"id":"b"}', b'{"id":"a"}', b'{"id":"c"}']
    assert sink.copies == 1 and restarted.copies == 1
    assert sorted(p.name for p in tmp_path.glob("*/*.jsonl")) == [
        "p000-000000000000-000000000001.jsonl",
        "p000-000000000003-000000000003.jsonl",
        "p000-000000000005-000000000005.jsonl",
    ]


def test_an_offset_delivered_after_later_ones_is_still_written(tmp_path: Path) -> None:
    """Faust can drop a fetched record; the stall watch re-reads it after later offsets were
    written. It must reach the files (a high-water mark skipped it: the failover run's lost line)."""
    ev = [(o, b'{"id":"%d"}' % o, f"raw:0:{o}") for o in range(10)]
    sink = FileSink(tmp_path)
    sink.write(0, ev[:5] + ev[6:], WHEN)  # offset 5 dropped on the way
    assert sink.write(0, ev[5:6], WHEN) is not None
    assert sorted(read_all(tmp_path)) == sorted(v for _, v, _ in ev)
    # Same after a restart: what was written is read back from the sidecars, gaps included.
    other = tmp_path / "other"
    FileSink(other).write(1, ev[:3] + ev[4:], WHEN)
    restarted = FileSink(other)
    assert restarted.write(1, ev[2:5], WHEN) is not None and restarted.skipped == 2
    assert sorted(read_all(other)) == sorted(v for _, v, _ in ev)


def test_offset_ranges() -> None:
    from agents.sink import OffsetRanges

    r = OffsetRanges()
    for o in [5, 7, 6, 1, 2, 10, 3]:
        r.add(o)
    assert list(zip(r.starts, r.ends, strict=True)) == [(1, 3), (5, 7), (10, 10)]
    assert 6 in r and 4 not in r and 0 not in r and 11 not in r
    r.add(4)
    assert len(r) == 2 and 4 in r
    r.drop_below(6)
    assert list(zip(r.starts, r.ends, strict=True)) == [(6, 7), (10, 10)]
