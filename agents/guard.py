"""What keeps one message from taking a worker, or its whole group, down.

``OffLoop``: a stage step runs in the stage's own thread, so the event loop (Kafka heartbeats,
commits, the other agents, ``/health``) keeps running however long the step takes. A step that
runs past its budget is abandoned (a thread cannot be killed; it finishes in the background and
its result is dropped) and the message is dead-lettered with the reason. The budget counts from
when the step starts in the thread, so an article queued behind an abandoned step still gets its
whole budget.

``CrashGuard``: a message that kills the worker process itself (the kernel's OOM killer, a crash in
native code) cannot be caught by any ``except``. Before a stage processes a message it writes the
message's key (hex; several for a batch) to ``data_dir/crashguard/inflight-<stage>`` and removes it
when done; a process that starts and finds such a file knows the previous one died on that message
and adds one to its crash count (``crashes.json``). When the count reaches ``poison_crash_limit``
the message is dead-lettered instead of processed and the partition moves on. Counting by key
rather than offset also catches the copies of the same article that at-least-once redelivery puts
on the next topic at new offsets. The count lives in the worker's data folder: a worker restarted
on its own folder (a restart policy, a StatefulSet) sees it; a different worker that takes the
partition over starts counting from zero, so the number of crashes is bounded by the limit per
worker.

A process death counts against every stage's in-flight message, and the stages run side by side:
a clean step that happened to be running when the entity step of a poison article killed the
process would be blamed too, and after a restart the same two messages tend to meet again. So a
*suspect* (a message with at least one crash against it) runs alone (``Isolation``): it waits
until no other guarded step runs and keeps new ones waiting until it is done, so the next death,
if any, counts against it only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


class StageTimeout(TimeoutError):
    """A stage step ran longer than its budget (``stage_timeout_seconds``)."""


class PoisonMessage(RuntimeError):
    """The worker process died this many times while a stage processed this message."""


class OffLoop:
    """One thread per stage; ``await run(fn, *args)`` returns ``fn(*args)`` or raises ``StageTimeout``."""

    def __init__(self, stage: str, budget: float, poll: float = 0.25) -> None:
        self.stage, self.budget, self.poll = stage, budget, poll
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"newsflow-{stage}")
        self.abandoned = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        started: list[float] = []

        def call() -> T:
            started.append(time.monotonic())
            return fn(*args)

        fut = asyncio.wrap_future(self.pool.submit(call))
        while True:
            done, _ = await asyncio.wait({fut}, timeout=self.poll)
            if done:
                return fut.result()
            if started and time.monotonic() - started[0] > self.budget:
                self.abandoned += 1
                fut.add_done_callback(_swallow)  # the late result or error is dropped
                raise StageTimeout(
                    f"{self.stage} took longer than its budget of {self.budget:g}s "
                    "(stage_timeout_seconds); abandoned, the message is dead-lettered"
                )


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


class Isolation:
    """Guarded steps of all stages run side by side, except a suspect's, which runs alone.

    Cancellation (a rebalance, a stop) may land at any await, so the claims are released without
    awaiting: the counters change synchronously and the waiters are woken by a task of their own.
    A claim left behind by a cancelled step would stop every stage of the worker for good."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._active = 0
        self._alone = False
        self._wakers: set[asyncio.Task[None]] = set()

    def _wake(self) -> None:
        async def notify() -> None:
            async with self._cond:
                self._cond.notify_all()

        task = asyncio.get_running_loop().create_task(notify())
        self._wakers.add(task)
        task.add_done_callback(self._wakers.discard)

    @contextlib.asynccontextmanager
    async def step(self, suspect: bool) -> AsyncIterator[None]:
        async with self._cond:
            await self._cond.wait_for(lambda: not self._alone)
            if suspect:
                self._alone = True
                try:
                    await self._cond.wait_for(lambda: self._active == 0)
                except BaseException:  # cancelled while waiting: the others must not wait for it
                    self._alone = False
                    self._wake()
                    raise
            self._active += 1
        try:
            yield
        finally:
            self._active -= 1
            if suspect:
                self._alone = False
            self._wake()


class CrashGuard:
    """Crash counts per (stage, key), persisted in ``folder``; see the module docstring."""

    KEEP = 1000  # counts remembered at most (oldest dropped first)

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = Path(folder), limit
        self.isolation = Isolation()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.counts_path = self.folder / "crashes.json"
        self.counts: dict[str, int] = {}
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            self.counts = dict(orjson.loads(self.counts_path.read_bytes()))
        died_on: list[str] = []
        for f in self.folder.glob("inflight-*"):
            with contextlib.suppress(OSError):
                stage = f.name.removeprefix("inflight-")
                died_on.extend(f"{stage} {hexkey}" for hexkey in f.read_text("ascii").split())
                f.unlink()
        for name in died_on:
            self.counts[name] = self.counts.get(name, 0) + 1
        self.died_on = died_on
        if died_on:
            self._save()

    @staticmethod
    def _name(stage: str, key: bytes) -> str:
        return f"{stage} {key.hex()}"

    def crashes(self, stage: str, key: bytes) -> int:
        """How many processes died while ``stage`` processed ``key``."""
        return self.counts.get(self._name(stage, key), 0) if self.counts else 0

    def poisoned(self, stage: str, key: bytes) -> PoisonMessage | None:
        n = self.crashes(stage, key)
        if self.limit <= 0 or n < self.limit:
            return None
        return PoisonMessage(
            f"the worker process died {n} times while the {stage} stage processed this message "
            f"(killed: out of memory or a native crash); poison_crash_limit={self.limit}, not processed again"
        )

    def begin(self, stage: str, *keys: bytes) -> None:
        """``stage`` starts on these messages (several when it runs a batch: a death then counts
        against each, and each runs alone, as a suspect, from then on)."""
        (self.folder / f"inflight-{stage}").write_text("\n".join(key.hex() for key in keys), "ascii")

    def done(self, stage: str, *keys: bytes, forget: bool = True) -> None:
        """The messages are finished; ``forget`` their crash counts (keep them for a dead-lettered
        poison message, so its copies at later offsets are dead-lettered too)."""
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"inflight-{stage}").unlink()
        forgot = [self.counts.pop(self._name(stage, key), None) for key in keys] if forget and self.counts else []
        if any(n is not None for n in forgot):
            self._save()

    def _save(self) -> None:
        if len(self.counts) > self.KEEP:
            self.counts = dict(list(self.counts.items())[-self.KEEP :])
        tmp = self.counts_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(self.counts))
        os.replace(tmp, self.counts_path)


_GUARDS: dict[Path, CrashGuard] = {}


def crash_guard(folder: Path, limit: int) -> CrashGuard | None:
    """The process's one guard for ``folder`` (None when ``limit`` is 0), created at first use so it
    reads what the previous process left before anything new is noted."""
    if limit <= 0:
        return None
    if folder not in _GUARDS:
        _GUARDS[folder] = CrashGuard(folder, limit)
    return _GUARDS[folder]
