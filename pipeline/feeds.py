"""Reading a feed document of any kind into items: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON
Feed 1.0/1.1, sitemaps and news sitemaps (lxml, entities and network off).

The kind is detected from the bytes, not from the Content-Type header (servers label feeds
``text/html``, ``text/plain`` or ``application/octet-stream`` often enough). A document that is no
feed raises ``NotAFeed`` with a reason a person can act on (an HTML page also names the feeds it
advertises with ``<link rel=alternate>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import orjson

_XML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*|<\?[^>]*>\s*)*<([A-Za-z_][\w:.-]*)", re.S
)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
_ALTERNATE = re.compile(rb"<link\b[^>]*>", re.I)
_ATTR = re.compile(rb"""([a-zA-Z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_FEED_TYPES = (b"application/rss+xml", b"application/atom+xml", b"application/feed+json", b"application/json")
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


class NotAFeed(ValueError):
    """The document is no feed of a kind newsflow reads; ``kind`` names the failure for metrics."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True)
class Entry:
    """One item as the feed listed it (URL not yet canonicalised)."""

    url: str
    title: str | None = None
    published_at: datetime | None = None
    author: str | None = None
    guid: str | None = None


@dataclass
class Feed:
    kind: str  # rss | atom | jsonfeed | sitemap | sitemapindex
    version: str
    title: str | None = None
    entries: list[Entry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # children of a sitemap index
    notes: list[str] = field(default_factory=list)


def detect(body: bytes) -> str:
    """``jsonfeed``, ``sitemap``, ``sitemapindex``, ``xmlfeed`` (RSS/Atom/RDF), ``html`` or ``unknown``."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf")
    if head.lstrip()[:1] in (b"{", b"["):
        return "jsonfeed" if b"jsonfeed.org/version" in body[:65536] else "json"
    if _HTML_START.match(head):
        return "html"
    m = _XML_START.match(head)
    if not m:
        return "unknown"
    root = m.group(1).split(b":")[-1].lower()
    if root == b"urlset":
        return "sitemap"
    if root == b"sitemapindex":
        return "sitemapindex"
    if root in (b"rss", b"feed", b"rdf", b"channel"):
        return "xmlfeed"
    if root == b"html":
        return "html"
    return "unknown"


def parse_feed(body: bytes, base_url: str, content_type: str | None = None, max_entries: int = 1000) -> Feed:
    """Entries of ``body`` fetched from ``base_url`` (relative links are resolved against it);
    ``content_type`` (the response header) only lends its charset."""
    kind = detect(body)
    if kind == "html":
        links = advertised_feeds(body, base_url)
        hint = f"; the page advertises {', '.join(links[:5])}" if links else ""
        raise NotAFeed("html_not_feed", f"the document is an HTML page, not a feed{hint}")
    if kind == "jsonfeed":
        return _jsonfeed(body, base_url, max_entries)
    if kind == "json":
        raise NotAFeed("not_a_feed", "JSON without a jsonfeed.org version: not a JSON Feed")
    if kind in ("sitemap", "sitemapindex"):
        return _sitemap(body, base_url, max_entries)
    if kind == "unknown" and not body.strip():
        raise NotAFeed("not_a_feed", "empty document")
    return _xmlfeed(body, base_url, max_entries, content_type)


def advertised_feeds(html: bytes, base_url: str) -> list[str]:
    """Feed URLs an HTML page names in ``<link rel="alternate" type="application/rss+xml" ...>``."""
    out: list[str] = []
    for tag in _ALTERNATE.findall(html[:500_000]):
        attrs = {m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"") for m in _ATTR.finditer(tag)}
        if b"alternate" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"type", b"").lower() in _FEED_TYPES:
            href = attrs.get(b"href", b"").decode("utf-8", "replace").strip()
            if href:
                out.append(urljoin(base_url, href))
    return out


def _when(value: Any) -> datetime | None:
    """A date from a struct_time (feedparser, already UTC), RFC 3339/ISO 8601 or RFC 822 text."""
    if value is None or value == "":
        return None
    if hasattr(value, "tm_year"):
        try:
            y, mo, d, h, mi, sec = value[:6]
            return datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=UTC)
        except (ValueError, TypeError):
            return None
    text = str(value).strip()
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _xmlfeed(body: bytes, base_url: str, max_entries: int, content_type: str | None) -> Feed:
    import feedparser  # lazily: nothing is loaded at import

    # The kind was detected from the bytes; only the charset of the server's Content-Type matters.
    charset = _CHARSET.search(content_type or "")
    ctype = "application/xml" + (f"; charset={charset.group(1)}" if charset else "")
    # Only titles, links, dates and authors are kept: no HTML sanitising or URI rewriting of bodies
    # (about half of feedparser's time); links are resolved below.
    d = feedparser.parse(
        body,
        response_headers={"content-location": base_url, "content-type": ctype},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    version = str(d.get("version") or "")
    bozo = d.get("bozo_exception") if d.get("bozo") else None
    if not version:
        why = f"{type(bozo).__name__}: {bozo}" if bozo is not None else "no RSS, RDF or Atom root element"
        raise NotAFeed("malformed_feed", f"not a readable RSS/Atom feed ({why})"[:500])
    feed = Feed(kind="atom" if version.startswith("atom") else "rss", version=version, title=_text(d.feed.get("title")))
    for e in d.entries[:max_entries]:
        link = _text(e.get("link"))
        guid = _text(e.get("id"))
        if not link and guid and guid.startswith(("http://", "https://")):
            link = guid
        if not link:
            continue
        published = _when(e.get("published_parsed") or e.get("updated_parsed") or e.get("created_parsed"))
        feed.entries.append(
            Entry(
                url=urljoin(base_url, link),
                title=_text(e.get("title")),
                published_at=published,
                author=_text(e.get("author")),
                guid=guid,
            )
        )
    if bozo is not None:
        if not feed.entries:
            raise NotAFeed(
                "malformed_feed", f"malformed feed with no readable item ({type(bozo).__name__}: {bozo})"[:500]
            )
        feed.notes.append(f"read despite {type(bozo).__name__}: {str(bozo)[:200]}")
    return feed


def _jsonfeed(body: bytes, base_url: str, max_entries: int) -> Feed:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotAFeed("malformed_feed", f"JSON Feed is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise NotAFeed("malformed_feed", "JSON Feed without an items list")
    version = str(doc.get("version", "")).rsplit("/", 1)[-1]
    feed = Feed(kind="jsonfeed", version=f"jsonfeed{version}", title=_text(doc.get("title")))
    feed_authors = doc.get("authors") or ([doc["author"]] if isinstance(doc.get("author"), dict) else [])
    for item in doc["items"][:max_entries]:
        if not isinstance(item, dict):
            continue
        link = _text(item.get("url")) or _text(item.get("external_url"))
        guid = _text(item.get("id"))
        if not link and guid and guid.startswith(("http://", "https://")):
            link = guid
        if not link:
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else feed_authors)
        names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
        feed.entries.append(
            Entry(
                url=urljoin(base_url, link),
                title=_text(item.get("title")),
                published_at=_when(item.get("date_published") or item.get("date_modified")),
                author=", ".join(str(n) for n in names) or None,
                guid=guid,
            )
        )
    return feed


def _sitemap(body: bytes, base_url: str, max_entries: int) -> Feed:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise NotAFeed("malformed_feed", f"sitemap is not well-formed XML ({exc})"[:500]) from exc
    local = etree.QName(root).localname
    ns = {"s": root.nsmap.get(None, SITEMAP_NS), "n": NEWS_NS}
    if local == "sitemapindex":
        feed = Feed(kind="sitemapindex", version="sitemap0.9")
        children = []
        for sm in root.findall("s:sitemap", ns):
            loc = _text(sm.findtext("s:loc", namespaces=ns))
            if loc:
                children.append((_when(sm.findtext("s:lastmod", namespaces=ns)), urljoin(base_url, loc)))
        # Newest first, so a bounded caller takes the sitemaps most likely to list new articles.
        children.sort(key=lambda c: c[0] or datetime.min.replace(tzinfo=UTC), reverse=True)
        feed.sitemaps = [url for _, url in children[:max_entries]]
        return feed
    is_news = root.find("s:url/n:news", ns) is not None
    feed = Feed(kind="sitemap", version="news-sitemap0.9" if is_news else "sitemap0.9")
    for url_el in root.findall("s:url", ns)[:max_entries]:
        loc = _text(url_el.findtext("s:loc", namespaces=ns))
        if not loc:
            continue
        news = url_el.find("n:news", ns)
        title = _text(news.findtext("n:title", namespaces=ns)) if news is not None else None
        published = _when(news.findtext("n:publication_date", namespaces=ns)) if news is not None else None
        if news is not None and feed.title is None:
            feed.title = _text(news.findtext("n:publication/n:name", namespaces=ns))
        feed.entries.append(
            Entry(
                url=urljoin(base_url, loc),
                title=title,
                published_at=published or _when(url_el.findtext("s:lastmod", namespaces=ns)),
            )
        )
    return feed
