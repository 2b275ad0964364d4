"""What the poller's fetcher takes and gives: its configuration, a response, a failed fetch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.settings import Settings


class FetchError(Exception):
    """A fetch that gave nothing usable. ``kind``: timeout, connection, http_4xx, http_5xx, http_429,
    http_503, too_large, decompression_bomb, not_html, redirect_loop, too_many_redirects, robots,
    bad_url."""

    def __init__(
        self, kind: str, reason: str, *, url: str = "", status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.kind, self.url, self.status, self.retry_after = kind, url, status, retry_after


@dataclass(frozen=True)
class FetchConfig:
    user_agent: str = "newsflow/0.1"
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    host_concurrency: int = 2
    host_delay: float = 1.0
    respect_robots: bool = True
    robots_ttl: float = 86_400.0

    @classmethod
    def from_settings(cls, s: Settings) -> FetchConfig:
        return cls(
            user_agent=s.user_agent,
            timeout=s.fetch_timeout_seconds,
            max_bytes=s.fetch_max_bytes,
            max_redirects=s.fetch_max_redirects,
            host_concurrency=s.host_concurrency,
            host_delay=s.host_delay_seconds,
            respect_robots=s.respect_robots,
            robots_ttl=s.robots_ttl_seconds,
        )


@dataclass
class Response:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")
