"""What travels on the live-polling topics (``newsflow poll``, README "Feeds").

    newsflow.feeds       FeedRegistration, key = feed URL (a tombstone removes a feed)
    newsflow.feed-polls  FeedState after each poll, key = feed URL (applied to the feed-state table)
    newsflow.feed-items  FeedItem, key = canonical article URL (so every listing of one article meets
                         on one partition and its page is fetched once)

These are internal to the poller (consumers read ``RawArticle`` on ``newsflow.raw``), so they may
change between minor versions.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.models import _Model


class FeedRegistration(_Model):
    url: str = Field(min_length=1, max_length=4096)
    added_at: datetime | None = None
    interval_seconds: float | None = Field(default=None, gt=0, description="overrides NEWSFLOW_POLL_INTERVAL_SECONDS")


class FeedState(_Model):
    """A feed's polling state: validators for conditional GET, the items already seen, timing.

    ``seen`` holds short hashes of the canonical item URLs (newest last, bounded), enough to tell
    new items from old ones across restarts and rebalances without storing the URLs themselves.
    """

    url: str
    partition: int = Field(ge=0, description="partition of the feeds topic that owns this feed")
    interval_seconds: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = Field(default_factory=list)
    next_poll_at: float = 0.0
    failures: int = 0
    polls: int = 0
    last_polled_at: float | None = None
    last_outcome: str | None = Field(default=None, description="ok | not_modified | error kind")
    last_error: str | None = None
    kind: str | None = None
    title: str | None = None
    seq: int = Field(0, description="poll sequence number; the table ignores an older state arriving late")


class FeedItem(_Model):
    """One new item a poll found, before its page is fetched."""

    url: str = Field(description="canonical URL: tracking parameters and fragment removed")
    listed_url: str
    feed_url: str
    feed_kind: str | None = None
    feed_title: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    author: str | None = None
    guid: str | None = None
    listed_at: datetime | None = None
