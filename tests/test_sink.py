from datetime import datetime, timezone
from pathlib import Path

from agents.sink import batch_path, read_all, write_batch


def test_batch_is_written_whole_and_replaced_on_rewrite(tmp_path: Path) -> None:
    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    p = write_batch(tmp_path, 3, 120, [b'{"id":"a"}', b'{"id":"b"}\n'], when)
    assert p == tmp_path / "2024-05-01" / "p003-000000000120.jsonl"
    assert p.read_bytes() == b'{"id":"a"}\n{"id":"b"}\n'
    # Reprocessing the same offsets after a crash replaces the file rather than adding copies.
    write_batch(tmp_path, 3, 120, [b'{"id":"a"}', b'{"id":"b"}', b'{"id":"c"}'], when)
    assert read_all(tmp_path) == [b'{"id":"a"}', b'{"id":"b"}', b'{"id":"c"}']
    assert not list(tmp_path.rglob("*.tmp"))


def test_path_depends_only_on_numbers(tmp_path: Path) -> None:
    p = batch_path(tmp_path, 0, 7)
    assert p.parent.parent == tmp_path and p.name == "p000-000000000007.jsonl"
