"""When to poll a feed next, and what a poll changes in its state. Pure: the poller passes the
clock and the random source.

- success or 304: the feed's interval, jittered by +-``jitter`` (a fraction) so feeds registered
  together do not stay in lockstep against one host;
- error: exponential backoff from the interval (``interval * 2**(failures-1)``, capped), jittered;
- 429/503 with ``Retry-After``: never earlier than the server asked, whichever is later.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Timing:
    interval: float = 900.0
    jitter: float = 0.1
    max_backoff: float = 6 * 3600.0
    min_interval: float = 1.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent
    or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    return seconds * (1.0 + rng.uniform(-jitter, jitter)) if jitter > 0 else seconds


def next_poll(
    now: float,
    timing: Timing,
    *,
    failures: int = 0,
    retry_after: float | None = None,
    interval: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """The epoch time of the next poll after one at ``now`` that left ``failures`` consecutive errors."""
    rng = rng or random.Random()
    base = max(timing.min_interval, interval or timing.interval)
    wait = base if failures <= 0 else min(timing.max_backoff, base * 2 ** min(failures - 1, 30))
    wait = max(timing.min_interval, jittered(wait, timing.jitter, rng))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return now + wait


def first_poll(now: float, timing: Timing, rng: random.Random | None = None) -> float:
    """A new feed is polled soon, spread over a small window so a bulk ``feeds add`` does not burst."""
    rng = rng or random.Random()
    return now + rng.uniform(0.0, min(5.0, timing.interval * timing.jitter))


def remember(seen: list[str], new: list[str], cap: int) -> list[str]:
    """``seen`` with ``new`` appended (newest last), without repeats, keeping the last ``cap``."""
    have = set(seen)
    out = list(seen)
    for key in new:
        if key not in have:
            out.append(key)
            have.add(key)
    return out[-cap:] if cap > 0 else []


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
