"""Canonical article URLs: one spelling per article, whichever feed listed it and how.

Feeds decorate links with tracking parameters (``utm_source=rss``, ``fbclid``...), fragments and
host-case variants; two feeds listing one article must agree on its URL so the page is fetched
once. courlan's tracker list is used (non-strict: strict mode also drops unknown parameters such as
``articleId`` and would merge different articles). The page's own ``<link rel=canonical>`` is
honoured after the fetch (``page_canonical``).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from courlan import normalize_url

_HEAD_LINK = re.compile(rb"<link\b[^>]*>", re.I)
_ATTR = re.compile(rb"""([a-zA-Z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_HEAD_END = re.compile(rb"</head\s*>|<body\b", re.I)


def canonical_url(url: str) -> str:
    """Tracking parameters, fragment, default port and host case removed; scheme and path kept.

    Raises ValueError for what is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    try:
        normalized = normalize_url(url)
    except ValueError as exc:  # courlan refuses some malformed hosts
        raise ValueError(f"not a usable URL: {url[:200]!r} ({exc})") from exc
    p = urlsplit(normalized)
    return urlunsplit((p.scheme, p.netloc, p.path or "/", p.query, ""))


def url_key(url: str) -> str:
    """A short stable hash of a canonical URL (what a feed's state remembers per seen item)."""
    return hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def page_canonical(html: bytes, base_url: str) -> str | None:
    """The canonical URL a page declares in its ``<head>`` (``<link rel="canonical" href=...>``),
    made absolute and canonicalised; None when absent or not http(s). Only the head is read."""
    end = _HEAD_END.search(html, 0, 500_000)
    head = html[: end.start() if end else 500_000]
    for tag in _HEAD_LINK.findall(head):
        attrs = {m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"") for m in _ATTR.finditer(tag)}
        if b"canonical" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"href"):
            href = attrs[b"href"].decode("utf-8", "replace").strip()
            try:
                return canonical_url(urljoin(base_url, href))
            except ValueError:
                return None
    return None


def host_of(url: str) -> str:
    """``host[:port]`` in lower case: the unit of politeness (robots.txt, concurrency, delay)."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    return f"{host}:{p.port}" if p.port else host


def stable_id(url: str | None, content: str) -> str:
    """Same article, same key, every replay: from the URL, or from the content when there is none."""
    basis = url.strip() if url and url.strip() else re.sub(r"\s+", " ", content).strip()
    return hashlib.sha1(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]
