from pathlib import Path

import orjson

from newsflow.backlog import Unreadable, read_backlog
from pipeline.urls import stable_id
from schemas import RawArticle


def _articles(items: list) -> list[RawArticle]:
    return [i for i in items if isinstance(i, RawArticle)]


def test_seed_layout_text_file(tmp_path: Path, seed_text: str) -> None:
    (tmp_path / "a.txt").write_text(seed_text)
    [art] = _articles(list(read_backlog([tmp_path])))
    assert art.title == "Russia and Turkey restrict Idlib patrols over security threats"
    assert art.body == seed_text


def test_ids_are_stable_across_reads_and_follow_the_url(tmp_path: Path, seed_text: str) -> None:
    (tmp_path / "a.txt").write_text(seed_text)
    lines = [
        {"url": "https://example.com/x", "title": "T", "body": "Body one."},
        {"url": "https://example.com/x", "title": "T2", "body": "Body changed."},
        {"title": "No url", "body": "Body three."},
    ]
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    first = [a.id for a in _articles(list(read_backlog([tmp_path])))]
    second = [a.id for a in _articles(list(read_backlog([tmp_path])))]
    assert first == second
    assert first[1] == first[2] == stable_id("https://example.com/x", "")  # same URL, same key
    assert len(set(first)) == 3


def test_html_file_takes_canonical_url(tmp_path: Path) -> None:
    html = b'<html><head><link rel="canonical" href="https://news.example/a"></head><body><p>x</p></body></html>'
    (tmp_path / "p.html").write_bytes(html)
    [art] = _articles(list(read_backlog([tmp_path])))
    assert art.url == "https://news.example/a" and art.html and art.id == stable_id(art.url, "")


def test_bad_lines_are_reported_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_bytes(b'{"body": "ok text"}\nnot json\n[1,2]\n{"id": 5, "body": {"x": 1}}\n')
    items = list(read_backlog([tmp_path / "c.jsonl"]))
    bad = [i for i in items if isinstance(i, Unreadable)]
    assert len(_articles(items)) == 1
    assert [b.where.rsplit(":", 1)[1] for b in bad] == ["2", "3", "4"]
    assert bad[0].raw == b"not json"


def test_undecodable_text_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00garbage\x80")
    [item] = list(read_backlog([tmp_path]))
    assert isinstance(item, Unreadable)
