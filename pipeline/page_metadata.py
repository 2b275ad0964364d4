"""Title, author, published time, language and the publisher's own article text from a page's metadata.

Modern news pages describe themselves for search engines and social networks: schema.org JSON-LD
(``NewsArticle`` with ``headline``, ``author``, ``datePublished``, ``inLanguage``, often the whole
``articleBody``), OpenGraph and ``article:*`` meta tags, ``<meta name="author">``, ``<time datetime>``
and ``<html lang>``. That is what the publisher says about its own article, so it beats guessing from
the visible layout; we read it here in one pass over the parsed tree (no network, no extra parser).

Order of trust per field (first found wins): JSON-LD article object, OpenGraph/``article:*``/Dublin
Core meta tags, then the page's structure (``<time datetime>``, ``<h1>``, ``<title>``, ``<html lang>``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# schema.org types whose object is the article itself (not the page, breadcrumb or organisation).
_ARTICLE_TYPES = frozenset(
    [
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "SocialMediaPosting",
        "TechArticle",
        "ScholarlyArticle",
        "Report",
        "VideoObject",
    ]
)
_LANG = re.compile(r"^([a-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")
_SPACE = re.compile(r"\s+")
# "Jane Doe | Site", "Headline - Site Name": the site part after the last separator in <title>.
_TITLE_SITE = re.compile(r"\s+[|\-–—:·»]\s+[^|\-–—:·»]{1,60}$")


@dataclass
class PageMetadata:
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    language: str | None = None
    description: str | None = None
    article_body: str | None = None
    source: dict[str, str] | None = None  # field -> where it came from ("json-ld", "meta", "time", ...)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if not isinstance(value, str):
        return None
    value = _SPACE.sub(" ", value).strip()
    return value or None


def parse_datetime(value: str | None) -> datetime | None:
    """ISO 8601 as publishers write it ("2024-05-03T10:00:00+0200", "...Z", "2024-05-03")."""
    if not value:
        return None
    value = value.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?", value)
    if not m:
        return None
    day, clock, _, zone = m.groups()
    text = day + ("T" + clock if clock else "")
    if zone and clock:
        text += "+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not 1990 <= dt.year <= 2100:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return set()


def _walk(node: Any, out: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, out, depth + 1)
    elif isinstance(node, dict):
        if _types(node) & _ARTICLE_TYPES:
            out.append(node)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in node:
                _walk(node[key], out, depth + 1)


def _author_name(value: Any) -> str | None:
    if isinstance(value, list):
        names = [n for n in (_author_name(v) for v in value[:5]) if n]
        return ", ".join(dict.fromkeys(names)) or None
    if isinstance(value, dict):
        return _text(value.get("name"))
    name = _text(value)
    if name and (name.startswith("http") or len(name) > 120):
        return None
    return name


def _json_ld_articles(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw or len(raw) > 1_000_000:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            try:  # some sites leave raw control characters or trailing commas in strings
                data = json.loads(re.sub(r"[\x00-\x1f]+", " ", raw))
            except ValueError:
                continue
        _walk(data, found)
    return found


def _meta(tree: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for el in tree.xpath("//meta[@content]"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = _text(el.get("content"))
        if key and content and key not in out:
            out[key] = content
    return out


def _strip_site(title: str) -> str:
    stripped = _TITLE_SITE.sub("", title)
    return stripped if len(stripped) >= 15 else title


def from_tree(tree: Any) -> PageMetadata:
    """Metadata of a parsed page (an lxml HTML tree)."""
    md = PageMetadata(source={})
    src: dict[str, str] = {}
    articles = _json_ld_articles(tree)
    # The object with the longest body (or the first one) is the page's article.
    article = max(articles, key=lambda a: len(_text(a.get("articleBody")) or ""), default=None)
    if article is not None:
        md.title = _text(article.get("headline")) or _text(article.get("name"))
        md.author = _author_name(article.get("author"))
        md.published = parse_datetime(_text(article.get("datePublished")) or _text(article.get("dateCreated")))
        lang = _text(article.get("inLanguage"))
        md.language = lang if isinstance(lang, str) else None
        md.description = _text(article.get("description"))
        body = article.get("articleBody")
        md.article_body = body.strip() if isinstance(body, str) and body.strip() else None
        for name in ("title", "author", "published", "language"):
            if getattr(md, name):
                src[name] = "json-ld"
    meta = _meta(tree)
    if not md.title:
        md.title = meta.get("og:title") or meta.get("twitter:title") or meta.get("dc.title")
        if md.title:
            src["title"] = "meta"
    if not md.author:
        author = meta.get("author") or meta.get("article:author") or meta.get("dc.creator") or meta.get("byl")
        if author and not author.startswith("http"):
            md.author = re.sub(r"^by\s+", "", author, flags=re.I)
            src["author"] = "meta"
    if not md.published:
        for key in (
            "article:published_time",
            "og:article:published_time",
            "datepublished",
            "pubdate",
            "publishdate",
            "dc.date.issued",
            "dc.date",
            "date",
            "parsely-pub-date",
            "sailthru.date",
        ):
            md.published = parse_datetime(meta.get(key))
            if md.published:
                src["published"] = "meta"
                break
    if not md.published:
        for value in tree.xpath("//time/@datetime")[:3]:
            md.published = parse_datetime(value)
            if md.published:
                src["published"] = "time"
                break
    if not md.description:
        md.description = meta.get("og:description") or meta.get("description")
    if not md.title:
        h1 = tree.xpath("//h1")
        heading = _text(h1[0].text_content()) if h1 else None
        page_title = _text(tree.findtext(".//title"))
        md.title = heading or (_strip_site(page_title) if page_title else None)
        if md.title:
            src["title"] = "h1" if heading else "title"
    if not md.language:
        lang = tree.xpath("string(/html/@lang)") or meta.get("og:locale") or meta.get("content-language") or ""
        md.language = lang.strip() or None
        if md.language:
            src["language"] = "html"
    if md.language:
        m = _LANG.match(md.language.strip())
        md.language = m.group(1).lower() if m else None
    md.source = src
    return md


def page_metadata(html: str) -> PageMetadata:
    """Parse ``html`` (with trafilatura's parser, as the clean stage does) and read its metadata; an
    unparsable page gives empty metadata."""
    from trafilatura.utils import load_html

    try:
        tree = load_html(html)
    except (ValueError, TypeError):
        tree = None
    return from_tree(tree) if tree is not None else PageMetadata(source={})
