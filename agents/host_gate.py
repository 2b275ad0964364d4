"""Per-host politeness of the poller: at most ``concurrency`` requests to one host at a time, and at
least ``delay`` seconds between their starts (raised to a site's ``Crawl-delay``, capped)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from agents import feed_metrics as m

MAX_CRAWL_DELAY = 60.0


@dataclass
class _Host:
    slots: asyncio.Semaphore
    next_at: float = 0.0
    delay: float = 0.0


@dataclass
class HostGate:
    """Per-host concurrency and spacing. ``slot`` waits for both and says how long it waited."""

    concurrency: int
    delay: float
    hosts: dict[str, _Host] = field(default_factory=dict)

    def host(self, name: str) -> _Host:
        h = self.hosts.get(name)
        if h is None:
            h = self.hosts[name] = _Host(asyncio.Semaphore(self.concurrency), delay=self.delay)
            m.HOST_DELAY.labels(name).set(h.delay)
        return h

    def set_delay(self, name: str, delay: float) -> None:
        h = self.host(name)
        h.delay = max(self.delay, min(delay, MAX_CRAWL_DELAY))
        m.HOST_DELAY.labels(name).set(h.delay)

    @contextlib.asynccontextmanager
    async def slot(self, name: str) -> AsyncIterator[float]:
        h = self.host(name)
        started = time.monotonic()
        async with h.slots:
            now = time.monotonic()
            start_at = max(now, h.next_at)
            h.next_at = start_at + h.delay  # reserved before sleeping: concurrent callers queue up behind
            if start_at > now:
                await asyncio.sleep(start_at - now)
            waited = time.monotonic() - started
            m.HOST_WAIT.observe(waited)
            yield waited
