"""WARC and WARC.gz backlogs: archives the test writes itself with warcio, read as articles
(target URI and capture date kept) and replayed into Kafka with the usual resume option."""

from __future__ import annotations

import asyncio
import gzip
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsflow.backlog import Unreadable, read_backlog
from newsflow.kafka import read_topic
from newsflow.replay import replay
from newsflow.settings import Settings
from schemas import RawArticle

PAGE = (
    "<html><head><title>Port deal</title><link rel='canonical' href='https://news.example.org/port-deal'></head>"
    "<body><article><p>The port authority signed the deal on Monday, officials said. Café owners cheered.</p>"
    "</article></body></html>"
)


def _write(path: Path, gz: bool) -> None:
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "newsflow-test"}))

        def response(uri: str, body: bytes, ctype: str, date: str, extra: list[tuple[str, str]] | None = None) -> None:
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype), *(extra or [])], protocol="HTTP/1.1")
            rec = w.create_warc_record(
                uri, "response", payload=BytesIO(body), http_headers=http, warc_headers_dict={"WARC-Date": date}
            )
            w.write_record(rec)

        req = w.create_warc_record(
            "https://news.example.org/port-deal?utm_source=x",
            "request",
            payload=BytesIO(b""),
            http_headers=StatusAndHeaders(
                "GET /port-deal HTTP/1.1", [("Host", "news.example.org")], is_http_request=True
            ),
        )
        w.write_record(req)
        response(
            "https://news.example.org/port-deal?utm_source=x",
            PAGE.encode("utf-8"),
            "text/html; charset=utf-8",
            "2026-11-30T10:15:00Z",
        )
        response("https://news.example.org/report.pdf", b"%PDF-1.4 binary", "application/pdf", "2026-11-30T10:16:00Z")
        latin = "<html><body><p>Señal débil en la región, dijo el ministro.</p></body></html>".encode("latin-1")
        response(
            "https://diario.example.es/nota",
            gzip.compress(latin),
            "text/html; charset=iso-8859-1",
            "2026-11-30T10:17:00Z",
            [("Content-Encoding", "gzip")],
        )


@pytest.mark.parametrize("name", ["cc-news.warc", "cc-news.warc.gz"])
def test_warc_response_records_become_articles(tmp_path: Path, name: str) -> None:
    _write(tmp_path / name, gz=name.endswith(".gz"))
    items = list(read_backlog([tmp_path / name]))
    assert all(isinstance(i, RawArticle) for i in items), items
    first, second = items
    assert isinstance(first, RawArticle) and isinstance(second, RawArticle)
    assert first.url == "https://news.example.org/port-deal?utm_source=x"  # target URI as captured
    assert first.fetched_at == datetime(2026, 11, 30, 10, 15, tzinfo=UTC)
    assert first.source == "news.example.org" and first.html and "Café owners" in first.html
    assert second.url == "https://diario.example.es/nota" and second.html and "Señal débil" in second.html
    # Same id rule as the live poller: the page's canonical URL.
    again = list(read_backlog([tmp_path / name]))
    assert [a.id for a in again if isinstance(a, RawArticle)] == [first.id, second.id]


def test_broken_archive_is_reported_not_raised(tmp_path: Path) -> None:
    good = tmp_path / "a.warc.gz"
    _write(good, gz=True)
    data = good.read_bytes()
    broken = tmp_path / "b.warc.gz"
    broken.write_bytes(data[: len(data) - 40])
    items = list(read_backlog([broken]))
    assert [type(i).__name__ for i in items] == ["RawArticle", "Unreadable"], items
    assert isinstance(items[-1], Unreadable) and "b.warc.gz" in items[-1].where
    assert "cut short" in str(items[-1].error)
    garbage = tmp_path / "c.warc"
    garbage.write_bytes(b"this is not a WARC file at all\n" * 10)
    (bad,) = list(read_backlog([garbage]))
    assert isinstance(bad, Unreadable) and "not a WARC record" in str(bad.error)


@pytest.mark.kafka
def test_warc_replays_into_kafka_with_resume(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    s = Settings.from_env(pipeline_env)
    archive = tmp_path / "backlog" / "cc-news.warc.gz"
    archive.parent.mkdir()
    _write(archive, gz=True)
    ckpt = tmp_path / "replay.ckpt"
    first = asyncio.run(replay(s, [archive.parent], progress=False, checkpoint=ckpt, stop_after=1, keep_ids=True))
    rest = asyncio.run(replay(s, [archive.parent], progress=False, checkpoint=ckpt, keep_ids=True, rate=50))
    assert (first.produced, rest.produced, rest.skipped) == (1, 1, 1)

    async def _docs() -> list[RawArticle]:
        return [RawArticle.model_validate_json(v) async for _k, v in read_topic(s, s.topic("raw"))]

    docs = asyncio.run(_docs())
    assert sorted(d.id for d in docs) == sorted(first.ids + rest.ids)
    assert {d.url for d in docs} == {
        "https://news.example.org/port-deal?utm_source=x",
        "https://diario.example.es/nota",
    }
    assert all(d.fetched_at is not None for d in docs)
