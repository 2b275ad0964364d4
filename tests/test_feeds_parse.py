"""Feed detection and parsing, canonical URLs, poll timing: pure functions, small hand-written documents."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pipeline.feeds import NotAFeed, detect, parse_feed
from pipeline.schedule import Timing, next_poll, parse_retry_after, remember
from pipeline.urls import canonical_url, page_canonical

BASE = "https://news.example.org/feed"

RSS091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old wire</title><link>https://news.example.org/</link>
<item><title>Harbour reopens</title><link>https://news.example.org/harbour?utm_source=rss</link></item>
</channel></rss>"""

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Desk</title>
<item><title>Talks resume</title><link>/world/talks-resume</link><guid isPermaLink="false">tag:1</guid>
<pubDate>Tue, 01 Dec 2026 08:30:00 +0100</pubDate><dc:creator>Ana Ruiz</dc:creator></item>
<item><title>No link but a permalink guid</title><guid>https://news.example.org/guid-only</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom desk</title><id>urn:x</id><updated>2026-12-01T09:00:00Z</updated>
<entry><title>Floods recede</title><link rel="alternate" href="https://news.example.org/floods"/>
<id>urn:uuid:1</id><updated>2026-12-01T09:00:00Z</updated><published>2026-12-01T07:15:00Z</published>
<author><name>Lee Chen</name></author></entry></feed>"""

JSONFEED = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "JSON desk",
 "authors": [{"name": "Feed Desk"}],
 "items": [{"id": "1", "url": "https://news.example.org/json-one", "title": "One",
            "date_published": "2026-12-01T10:00:00+02:00", "authors": [{"name": "Sam Ode"}]},
           {"id": "https://news.example.org/json-two", "title": "Two"},
           {"id": "3", "content_text": "no url at all"}]}"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://news.example.org/sitemap-story</loc>
<news:news><news:publication><news:name>Example News</news:name><news:language>en</news:language></news:publication>
<news:publication_date>2026-12-01T06:00:00Z</news:publication_date>
<news:title>Sitemap story</news:title></news:news></url>
</urlset>"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://news.example.org/sm-old.xml</loc><lastmod>2026-01-01</lastmod></sitemap>
<sitemap><loc>https://news.example.org/sm-new.xml</loc><lastmod>2026-12-01</lastmod></sitemap>
</sitemapindex>"""


def test_detects_each_kind_from_the_bytes() -> None:
    assert detect(RSS091) == "xmlfeed"
    assert detect(ATOM) == "xmlfeed"
    assert detect(JSONFEED) == "jsonfeed"
    assert detect(NEWS_SITEMAP) == "sitemap"
    assert detect(SITEMAP_INDEX) == "sitemapindex"
    assert detect(b"<!DOCTYPE html><html><head></head></html>") == "html"


def test_rss_091() -> None:
    feed = parse_feed(RSS091, BASE, "text/html")  # a wrong Content-Type does not matter
    assert feed.kind == "rss" and feed.version.startswith("rss091") and feed.title == "Old wire"
    assert [e.url for e in feed.entries] == ["https://news.example.org/harbour?utm_source=rss"]


def test_rss_20_relative_links_dates_authors_and_guid_links() -> None:
    feed = parse_feed(RSS20, BASE)
    assert feed.version == "rss20"
    first, second = feed.entries
    assert first.url == "https://news.example.org/world/talks-resume"
    assert first.published_at == datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
    assert first.author == "Ana Ruiz"
    assert second.url == "https://news.example.org/guid-only"


def test_atom_10() -> None:
    feed = parse_feed(ATOM, BASE)
    assert (feed.kind, feed.version, feed.title) == ("atom", "atom10", "Atom desk")
    (e,) = feed.entries
    assert (e.url, e.title, e.author) == ("https://news.example.org/floods", "Floods recede", "Lee Chen")
    assert e.published_at == datetime(2026, 12, 1, 7, 15, tzinfo=UTC)


def test_json_feed_11() -> None:
    feed = parse_feed(JSONFEED, BASE)
    assert (feed.kind, feed.version, feed.title) == ("jsonfeed", "jsonfeed1.1", "JSON desk")
    assert [e.url for e in feed.entries] == ["https://news.example.org/json-one", "https://news.example.org/json-two"]
    assert feed.entries[0].author == "Sam Ode" and feed.entries[1].author == "Feed Desk"
    assert feed.entries[0].published_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_news_sitemap_and_index() -> None:
    feed = parse_feed(NEWS_SITEMAP, BASE)
    assert (feed.kind, feed.version, feed.title) == ("sitemap", "news-sitemap0.9", "Example News")
    (e,) = feed.entries
    assert (e.url, e.title) == ("https://news.example.org/sitemap-story", "Sitemap story")
    assert e.published_at == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    index = parse_feed(SITEMAP_INDEX, BASE)
    assert index.kind == "sitemapindex"
    assert index.sitemaps == ["https://news.example.org/sm-new.xml", "https://news.example.org/sm-old.xml"]


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        (b"<rss version='2.0'><channel><item><title>cut", "malformed_feed", "no readable item"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "malformed_feed", "no RSS"),
        (
            b"<!doctype html><html><head><link rel='alternate' type='application/rss+xml' href='/rss.xml'></head>",
            "html_not_feed",
            "advertises https://news.example.org/rss.xml",
        ),
        (b'{"items": []}', "not_a_feed", "JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "malformed_feed", "not valid JSON"),
        (b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>x", "malformed_feed", "sitemap"),
        (b"", "not_a_feed", "empty"),
    ],
)
def test_not_a_feed_says_why(body: bytes, kind: str, words: str) -> None:
    with pytest.raises(NotAFeed) as info:
        parse_feed(body, BASE)
    assert info.value.kind == kind
    assert words in str(info.value)


def test_xxe_entities_are_not_resolved(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    doc = (
        f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://a.example/&x;</loc></url></urlset>'
    ).encode()
    try:
        feed = parse_feed(doc, BASE)
    except NotAFeed:
        return
    assert all("TOPSECRET" not in e.url for e in feed.entries)


def test_canonical_url_strips_tracking_keeps_identity() -> None:
    assert canonical_url("HTTPS://News.Example.org:443/a?utm_source=rss&id=7&fbclid=z#top") == (
        "https://news.example.org/a?id=7"
    )
    assert canonical_url("https://news.example.org/story?articleId=42&utm_medium=feed") == (
        "https://news.example.org/story?articleId=42"
    )
    assert canonical_url("https://news.example.org") == "https://news.example.org/"
    with pytest.raises(ValueError):
        canonical_url("mailto:desk@example.org")


def test_page_canonical_is_read_from_the_head_only() -> None:
    html = b'<html><head><link href="/real?utm_campaign=x" rel="canonical"></head><body>'
    assert page_canonical(html, "https://m.example.org/x") == "https://m.example.org/real"
    body_only = b'<html><head></head><body><link rel="canonical" href="https://evil.example/"></body>'
    assert page_canonical(body_only, "https://m.example.org/x") is None


def test_poll_timing_jitter_backoff_and_retry_after() -> None:
    t = Timing(interval=100.0, jitter=0.1, max_backoff=1000.0)
    rng = random.Random(1)
    waits = [next_poll(0.0, t, rng=rng) for _ in range(200)]
    assert 90.0 <= min(waits) < 95.0 and 105.0 < max(waits) <= 110.0  # spread, within +-10 %
    no_jitter = Timing(interval=100.0, jitter=0.0, max_backoff=1000.0)
    assert [next_poll(0.0, no_jitter, failures=f) for f in (1, 2, 3, 4, 5)] == [100.0, 200.0, 400.0, 800.0, 1000.0]
    assert next_poll(0.0, no_jitter, failures=1, retry_after=3600.0) == 3600.0
    assert next_poll(0.0, no_jitter, interval=30.0) == 30.0
    assert parse_retry_after("120", 0.0) == 120.0
    assert (
        parse_retry_after("Wed, 02 Dec 2026 08:00:00 GMT", datetime(2026, 12, 2, 7, 59, tzinfo=UTC).timestamp()) == 60
    )
    assert parse_retry_after("soon", 0.0) is None


def test_remember_keeps_newest_bounded() -> None:
    assert remember(["a", "b"], ["b", "c", "d"], 3) == ["b", "c", "d"]


def test_clean_keeps_the_feed_byline_when_the_page_has_none() -> None:
    from pipeline.enrich import clean_step
    from schemas import FeedMeta, RawArticle

    html = (
        "<html><body><article><p>"
        + "Officials in Ankara met their counterparts on Monday. " * 8
        + "</p></article></body></html>"
    )
    raw = RawArticle(id="x1", url="https://news.example.org/x", html=html, feed=FeedMeta(url=BASE, author="Desk Two"))
    cleaned = clean_step(raw)
    assert cleaned.author == "Desk Two"
    assert cleaned.feed is not None and cleaned.feed.url == BASE
