"""One poll of one feed, and one article fetch: the poller's I/O, without Faust.

``agents/feeds.py`` calls these from its timer and agent; the tests call them directly against a
local HTTP server. Neither raises for a bad feed or page: a poll returns the new state with the
failure recorded (logged, counted, backed off), an article fetch raises ``FetchError`` for the
caller to dead-letter.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agents import feed_metrics as m
from agents.fetch import Fetcher
from agents.fetch_types import FetchError
from pipeline.feeds import NotAFeed, parse_feed
from pipeline.schedule import Timing, next_poll, remember
from pipeline.urls import canonical_url, host_of, page_canonical, stable_id, url_key
from schemas import FeedMeta, RawArticle
from schemas.feeds import FeedItem, FeedState

if TYPE_CHECKING:
    from newsflow.settings import Settings

log = logging.getLogger("newsflow.poll")

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


@dataclass
class PollResult:
    state: FeedState
    items: list[FeedItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # children of a sitemap index
    outcome: str = "ok"  # ok | not_modified | <error kind>


def timing_for(s: Settings) -> Timing:
    return Timing(interval=s.poll_interval_seconds, jitter=s.poll_jitter, max_backoff=s.poll_max_backoff_seconds)


async def poll_feed(
    fetcher: Fetcher,
    state: FeedState,
    timing: Timing,
    *,
    seen_cap: int = 2000,
    now: float | None = None,
    rng: random.Random | None = None,
) -> PollResult:
    """Poll ``state.url`` once: conditional GET, parse, the items not seen before, the next poll time."""
    now = time.time() if now is None else now
    st = state.model_copy(deep=True)
    st.polls += 1
    st.seq += 1
    st.last_polled_at = now
    try:
        resp = await fetcher.get(st.url, what="feed", etag=st.etag, last_modified=st.last_modified, accept=FEED_ACCEPT)
        if resp.status == 304:
            m.POLLS.labels("not_modified").inc()
            m.NOT_MODIFIED.inc()
            st.failures, st.last_outcome, st.last_error = 0, "not_modified", None
            st.next_poll_at = next_poll(now, timing, interval=st.interval_seconds, rng=rng)
            log.debug("feed %s: not modified", st.url)
            return PollResult(st, outcome="not_modified")
        # At most half the seen list per poll, so an item still listed is always remembered.
        feed = parse_feed(resp.body, resp.url, resp.content_type, max_entries=max(5, seen_cap // 2))
    except (FetchError, NotAFeed) as exc:
        kind = exc.kind
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        if isinstance(exc, NotAFeed):
            m.FETCH_ERRORS.labels("feed", kind).inc()
        m.POLLS.labels("error").inc()
        st.failures += 1
        st.last_outcome, st.last_error = kind, str(exc)[:500]
        st.next_poll_at = next_poll(
            now, timing, failures=st.failures, retry_after=retry_after, interval=st.interval_seconds, rng=rng
        )
        log.warning(
            "feed %s: %s: %s (failure %d in a row; next poll in %.0fs)",
            st.url,
            kind,
            exc,
            st.failures,
            st.next_poll_at - now,
        )
        return PollResult(st, outcome=kind)

    m.POLLS.labels("ok").inc()
    st.etag = resp.headers.get("ETag") or None
    st.last_modified = resp.headers.get("Last-Modified") or None
    st.failures, st.last_outcome, st.last_error = 0, "ok", None
    st.kind, st.title = feed.kind, feed.title or st.title
    st.next_poll_at = next_poll(now, timing, interval=st.interval_seconds, rng=rng)
    for note in feed.notes:
        log.info("feed %s: %s", st.url, note)
    have = set(st.seen)
    items: list[FeedItem] = []
    keys: list[str] = []
    listed_at = datetime.fromtimestamp(now, UTC)
    # Oldest first, so the seen list keeps the newest at its end and new items go out in order.
    for entry in reversed(feed.entries):
        try:
            url = canonical_url(entry.url)
        except ValueError as exc:
            m.FETCH_ERRORS.labels("feed", "bad_item_url").inc()
            log.info("feed %s: item skipped: %s", st.url, exc)
            continue
        key = url_key(url)
        keys.append(key)
        if key in have:
            continue
        have.add(key)
        items.append(
            FeedItem(
                url=url,
                listed_url=entry.url,
                feed_url=st.url,
                feed_kind=feed.kind,
                feed_title=feed.title,
                title=entry.title,
                published_at=entry.published_at,
                author=entry.author,
                guid=entry.guid,
                listed_at=listed_at,
            )
        )
    st.seen = remember(st.seen, keys, seen_cap)
    m.NEW_ITEMS.inc(len(items))
    if items:
        log.info("feed %s: %d new of %d items", st.url, len(items), len(feed.entries))
    return PollResult(st, items=items, sitemaps=feed.sitemaps, outcome="ok")


async def fetch_article(fetcher: Fetcher, item: FeedItem, now: float | None = None) -> RawArticle:
    """The item's page as a RawArticle keyed by the page's canonical URL (its ``<link
    rel=canonical>`` when it has one, else the item's canonical URL). Raises FetchError."""
    resp = await fetcher.get(item.url, what="article", accept=ARTICLE_ACCEPT, html_only=True)
    if resp.status == 304:  # never asked for; a broken server
        raise FetchError("http_3xx", "304 to an unconditional request", url=item.url)
    try:
        final = canonical_url(resp.url)
    except ValueError:
        final = item.url
    url = page_canonical(resp.body, resp.url) or final
    html = resp.body.decode(_charset(resp.content_type) or "utf-8", "replace")
    m.ARTICLES.inc()
    return RawArticle(
        id=stable_id(url, html),
        source=host_of(url),
        url=url,
        title=item.title,
        html=html,
        published_at=item.published_at,
        fetched_at=datetime.fromtimestamp(time.time() if now is None else now, UTC),
        feed=FeedMeta(
            url=item.feed_url,
            kind=item.feed_kind,
            title=item.feed_title,
            item_url=item.listed_url,
            author=item.author,
            guid=item.guid,
        ),
    )


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "charset" and v:
            name = v.strip("\"' ")
            try:
                "".encode(name)
            except LookupError:
                return None
            return name
    return None
