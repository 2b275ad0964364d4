"""Prometheus series of the live poller (``newsflow poll`` serves them at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter("newsflow_feed_polls_total", "Feed polls by outcome (ok, not_modified, error)", ["outcome"])
NEW_ITEMS = Counter("newsflow_feed_new_items_total", "Items a poll found that the feed had not listed before")
NOT_MODIFIED = Counter("newsflow_feed_not_modified_total", "Polls answered 304 Not Modified")
FETCH_ERRORS = Counter(
    "newsflow_fetch_errors_total",
    "Failed fetches by what was fetched (feed, article, robots) and kind",
    ["what", "kind"],
)
ARTICLES = Counter("newsflow_articles_fetched_total", "Article pages fetched and produced to the raw topic")
LISTINGS_SKIPPED = Counter(
    "newsflow_article_listings_skipped_total", "Listings whose article was not fetched again, by reason", ["reason"]
)
HOST_WAIT = Histogram(
    "newsflow_fetch_host_wait_seconds",
    "Time a request waited for its host's concurrency slot and delay",
    buckets=(0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
HOST_DELAY = Gauge("newsflow_fetch_host_delay_seconds", "Least time between requests to a host in force", ["host"])
