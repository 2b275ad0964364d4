"""The poller's fetching against a local HTTP server on 127.0.0.1 that the test starts: feeds that
change between polls, conditional GET, and every hostile case the issue names. Each failure must
come back as a clear reason (logged) and a metric, and the next feed must still be polled."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from agents.fetch import Fetcher
from agents.fetch_types import FetchConfig, FetchError
from agents.poller import fetch_article, poll_feed
from pipeline.schedule import Timing
from schemas.feeds import FeedItem, FeedState
from tests.feedserver import FeedServer, article, gzip_bomb, oversized, redirect, rss, slow, static, status

TIMING = Timing(interval=60.0, jitter=0.0, max_backoff=3600.0)
CONFIG = FetchConfig(user_agent="newsflow-test/1.0 (+tests)", timeout=1.0, max_bytes=200_000, host_delay=0.0)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.set("/robots.txt", static("User-agent: *\nDisallow: /private/\n", "text/plain"))
        yield srv


def errors(what: str, kind: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetch_errors_total", {"what": what, "kind": kind}) or 0.0


def polls(outcome: str) -> float:
    return REGISTRY.get_sample_value("newsflow_feed_polls_total", {"outcome": outcome}) or 0.0


async def _poll(fetcher: Fetcher, url: str, state: FeedState | None = None):  # type: ignore[no-untyped-def]
    return await poll_feed(fetcher, state or FeedState(url=url, partition=0), TIMING, now=time.time())


async def test_changing_feed_conditional_get_and_new_items_only(server: FeedServer) -> None:
    a, b, c = (server.url(f"/news/{x}?utm_source=rss") for x in "abc")
    server.set("/feed.xml", static(rss([(b, "B"), (a, "A")]), "application/rss+xml", etag='"v1"'))
    not_modified_before = REGISTRY.get_sample_value("newsflow_feed_not_modified_total") or 0.0
    new_before = REGISTRY.get_sample_value("newsflow_feed_new_items_total") or 0.0
    async with Fetcher(CONFIG) as fetcher:
        first = await _poll(fetcher, server.url("/feed.xml"))
        assert first.outcome == "ok" and first.state.etag == '"v1"'
        assert [i.url for i in first.items] == [server.url("/news/a"), server.url("/news/b")]  # oldest first
        assert first.items[0].title == "A" and first.items[0].author and first.items[0].published_at

        second = await _poll(fetcher, server.url("/feed.xml"), first.state)
        assert second.outcome == "not_modified" and second.items == []
        assert server.headers_of("/feed.xml")[-1].get("If-None-Match") == '"v1"'

        server.set("/feed.xml", static(rss([(c, "C"), (b, "B")]), "application/rss+xml", etag='"v2"'))
        third = await _poll(fetcher, server.url("/feed.xml"), second.state)
        assert [i.url for i in third.items] == [server.url("/news/c")]
        assert third.state.etag == '"v2"' and third.state.polls == 3
    assert (REGISTRY.get_sample_value("newsflow_feed_not_modified_total") or 0) - not_modified_before == 1
    assert (REGISTRY.get_sample_value("newsflow_feed_new_items_total") or 0) - new_before == 3
    assert all(h.get("User-Agent") == CONFIG.user_agent for _, h in server.requests)


async def test_last_modified_validator(server: FeedServer) -> None:
    stamp = "Tue, 01 Dec 2026 08:00:00 GMT"
    server.set("/atom", static(rss([(server.url("/x"), "X")]), "application/xml", last_modified=stamp))
    async with Fetcher(CONFIG) as fetcher:
        first = await _poll(fetcher, server.url("/atom"))
        second = await _poll(fetcher, server.url("/atom"), first.state)
    assert first.state.last_modified == stamp
    assert second.outcome == "not_modified"
    assert server.headers_of("/atom")[-1].get("If-Modified-Since") == stamp


HOSTILE_FEEDS = [
    ("/malformed.xml", static("<rss version='2.0'><channel><item><title>cut", "application/rss+xml"), "malformed_feed"),
    ("/page.html", static("<!doctype html><html><body>hi</body></html>", "text/html"), "html_not_feed"),
    ("/err500", status(500), "http_5xx"),
    ("/gone", status(404), "http_4xx"),
    ("/slow", slow(3.0), "timeout"),
    ("/loop-a", redirect("/loop-b"), "redirect_loop"),
    ("/big.xml", oversized(1_000_000, "application/rss+xml"), "too_large"),
    ("/bomb.xml", gzip_bomb(50_000_000), "decompression_bomb"),
    ("/private/feed.xml", static(rss([]), "application/rss+xml"), "robots"),
]


@pytest.mark.parametrize(("path", "handler", "kind"), HOSTILE_FEEDS, ids=[k for _, _, k in HOSTILE_FEEDS])
async def test_hostile_feed_gives_reason_metric_and_backoff(
    server: FeedServer, caplog: pytest.LogCaptureFixture, path, handler, kind: str
) -> None:  # type: ignore[no-untyped-def]
    server.set(path, handler)
    server.set("/loop-b", redirect("/loop-a"))
    before, polls_before = errors("feed", kind), polls("error")
    caplog.set_level(logging.WARNING, logger="newsflow.poll")
    async with Fetcher(CONFIG) as fetcher:
        res = await _poll(fetcher, server.url(path))
        again = await _poll(fetcher, server.url(path), res.state)
    assert res.outcome == kind and res.items == []
    assert res.state.failures == 1 and res.state.last_error
    assert errors("feed", kind) - before == 2
    assert polls("error") - polls_before == 2
    assert any(kind in r.getMessage() and res.state.url in r.getMessage() for r in caplog.records)
    # Backoff: the second failure waits twice as long as the first.
    assert again.state.failures == 2
    assert again.state.next_poll_at - again.state.last_polled_at == pytest.approx(
        2 * (res.state.next_poll_at - res.state.last_polled_at), rel=0.01
    )
    if kind == "robots":
        assert server.hits[path] == 0, "a disallowed path is never requested"


@pytest.mark.parametrize("code", [429, 503])
async def test_retry_after_is_honoured(server: FeedServer, code: int) -> None:
    server.set("/busy", status(code, {"Retry-After": "7200"}))
    async with Fetcher(CONFIG) as fetcher:
        res = await _poll(fetcher, server.url("/busy"))
    assert res.outcome == f"http_{code}"
    assert res.state.next_poll_at - res.state.last_polled_at >= 7200 > TIMING.interval
    assert "Retry-After 7200s" in (res.state.last_error or "")


async def test_too_many_redirects(server: FeedServer) -> None:
    for i in range(8):
        server.set(f"/hop{i}", redirect(f"/hop{i + 1}"))
    async with Fetcher(CONFIG) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetcher.get(server.url("/hop0"), what="feed")
    assert info.value.kind == "too_many_redirects"
    assert server.hits["/hop6"] == 0, "stops after max_redirects hops"


async def test_poller_keeps_going_past_hostile_feeds(server: FeedServer) -> None:
    server.set("/good.xml", static(rss([(server.url("/news/good"), "Good")]), "application/rss+xml"))
    for path, handler, _ in HOSTILE_FEEDS:
        server.set(path, handler)
    server.set("/loop-b", redirect("/loop-a"))
    urls = [server.url(p) for p, _, _ in HOSTILE_FEEDS] + [server.url("/good.xml")]
    async with Fetcher(CONFIG) as fetcher:
        results = await asyncio.gather(*(_poll(fetcher, u) for u in urls))
    outcomes = {r.state.url: r.outcome for r in results}
    assert outcomes[server.url("/good.xml")] == "ok"
    assert [i.url for r in results for i in r.items] == [server.url("/news/good")]
    assert sorted(set(outcomes.values()) - {"ok"}) == sorted(k for _, _, k in HOSTILE_FEEDS)


def _item(server: FeedServer, path: str) -> FeedItem:
    return FeedItem(
        url=server.url(path),
        listed_url=server.url(path) + "?utm_source=rss",
        feed_url=server.url("/feed.xml"),
        feed_kind="rss",
        feed_title="Test feed",
        title="Listed title",
        author="Desk",
    )


async def test_article_page_canonical_and_feed_metadata(server: FeedServer) -> None:
    server.set("/m/story", article("Story", canonical=server.url("/story?utm_campaign=x")))
    async with Fetcher(CONFIG) as fetcher:
        raw = await fetch_article(fetcher, _item(server, "/m/story"))
    assert raw.url == server.url("/story")  # the page's canonical, tracking stripped
    assert raw.html and "<article>" in raw.html
    assert raw.title == "Listed title" and raw.fetched_at is not None
    assert raw.feed is not None and raw.feed.url == server.url("/feed.xml") and raw.feed.author == "Desk"
    assert raw.feed.item_url == server.url("/m/story") + "?utm_source=rss"


HOSTILE_ARTICLES = [
    ("/doc.pdf", static(b"%PDF-1.4 ...", "application/pdf"), "not_html"),
    ("/huge.html", oversized(1_000_000), "too_large"),
    ("/bomb.html", gzip_bomb(50_000_000, "text/html"), "decompression_bomb"),
    ("/private/a.html", article("Secret"), "robots"),
    ("/slow.html", slow(3.0, content_type="text/html"), "timeout"),
]


@pytest.mark.parametrize(("path", "handler", "kind"), HOSTILE_ARTICLES, ids=[k for _, _, k in HOSTILE_ARTICLES])
async def test_hostile_article(server: FeedServer, path, handler, kind: str) -> None:  # type: ignore[no-untyped-def]
    server.set(path, handler)
    before = errors("article", kind)
    async with Fetcher(CONFIG) as fetcher:
        with pytest.raises(FetchError) as info:
            await fetch_article(fetcher, _item(server, path))
    assert info.value.kind == kind and str(info.value)
    assert errors("article", kind) - before == 1


async def test_per_host_delay_and_crawl_delay(server: FeedServer) -> None:
    server.set("/robots.txt", static("User-agent: *\nCrawl-delay: 0.4\n", "text/plain"))
    server.set("/a", article("A"))
    config = FetchConfig(user_agent="newsflow-test/1.0", timeout=2.0, host_delay=0.1, host_concurrency=2)
    async with Fetcher(config) as fetcher:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.get(server.url("/a"), what="article") for _ in range(3)))
        elapsed = time.monotonic() - started
        host = f"127.0.0.1:{server.port}"
        assert REGISTRY.get_sample_value("newsflow_fetch_host_delay_seconds", {"host": host}) == 0.4
    # robots.txt, then three requests each at least 0.4 s after the one before.
    assert elapsed >= 0.8
    assert server.hits["/a"] == 3
