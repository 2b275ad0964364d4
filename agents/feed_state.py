"""What one poller worker holds: its tables, the poll outcomes not yet applied to them, and the polls
and fetches in flight."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust

from agents.fetch import Fetcher
from agents.fetch_types import FetchConfig
from schemas.feeds import FeedState

if TYPE_CHECKING:
    from newsflow.settings import Settings


@dataclass
class Poller:
    """What ``build_poller`` declared, for tests and the CLI."""

    app: faust.App
    settings: Settings
    state: Any  # faust Table: feed URL -> FeedState (JSON)
    fetched: Any  # faust Table: canonical article URL -> {"status", "id", "t"}
    overlay: dict[str, FeedState] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    fetching: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    fetcher: Fetcher | None = None

    async def client(self) -> Fetcher:
        if self.fetcher is None:
            self.fetcher = await Fetcher(FetchConfig.from_settings(self.settings)).__aenter__()
        return self.fetcher

    def current(self, url: str) -> FeedState | None:
        """The newest state of a feed: the table's, or a poll outcome not yet applied to it."""
        raw = self.state.get(url)
        table_state = FeedState.model_validate(raw) if raw is not None else None
        pending = self.overlay.get(url)
        if pending is not None and (table_state is None or pending.seq > table_state.seq):
            return pending
        return table_state

    def owned_partitions(self) -> set[int]:
        """Registry partitions assigned to this worker as active (the table also holds standby copies)."""
        registry = self.settings.topic("feeds")
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == registry}
