"""agents.guard: steps off the event loop with a budget, and the crash counter for poison messages."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agents.guard import CrashGuard, OffLoop, StageTimeout


def test_off_loop_keeps_the_event_loop_free() -> None:
    """A step blocking its thread for 1.5 s: the loop keeps ticking (heartbeats would go on)."""

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        t = asyncio.create_task(ticker())
        result = await OffLoop("entities", budget=10).run(lambda: time.sleep(1.5) or "done")
        t.cancel()
        return result, ticks

    result, ticks = asyncio.run(main())
    assert result == "done" and ticks >= 10


def test_budget_counts_from_the_start_of_each_step() -> None:
    """The runaway step is abandoned; the next one, queued behind it, still gets its whole budget."""

    async def main() -> list[str]:
        off = OffLoop("entities", budget=0.6, poll=0.05)
        out = []
        try:
            await off.run(time.sleep, 1.5)
        except StageTimeout as exc:
            out.append(str(exc))
        out.append(await off.run(lambda: time.sleep(0.4) or "second"))
        return out

    out = asyncio.run(main())
    assert "budget of 0.6s" in out[0] and out[1] == "second"


def test_errors_of_the_step_come_through() -> None:
    async def main() -> None:
        await OffLoop("clean", budget=5).run(int, "not a number")

    with pytest.raises(ValueError):
        asyncio.run(main())


def _die_while(folder: Path, stage: str, *keys: bytes) -> None:
    """A child process that begins ``keys`` and is killed by SIGKILL before it is done."""
    code = (
        "import os, signal, sys; from pathlib import Path; from agents.guard import CrashGuard; "
        f"g = CrashGuard(Path({str(folder)!r}), 2); g.begin({stage!r}, *{keys!r}); os.kill(os.getpid(), signal.SIGKILL)"
    )
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": root}, cwd=root)
    assert done.returncode == -9


def test_a_message_that_kills_the_process_is_poisoned_after_the_limit(tmp_path: Path) -> None:
    folder = tmp_path / "crashguard"
    assert CrashGuard(folder, 2).poisoned("entities", b"bad") is None
    _die_while(folder, "entities", b"bad")
    g = CrashGuard(folder, 2)
    assert g.crashes("entities", b"bad") == 1 and g.poisoned("entities", b"bad") is None
    _die_while(folder, "entities", b"bad")
    g = CrashGuard(folder, 2)
    why = g.poisoned("entities", b"bad")
    assert why is not None and "died 2 times" in str(why) and "entities" in str(why)
    assert g.poisoned("clean", b"bad") is None and g.poisoned("entities", b"good") is None
    # Dead-lettered: the count stays, so a copy of the article at a later offset is caught too.
    g.done("entities", b"bad", forget=False)
    assert CrashGuard(folder, 2).poisoned("entities", b"bad") is not None


def test_a_message_finished_normally_is_not_counted(tmp_path: Path) -> None:
    folder = tmp_path / "crashguard"
    g = CrashGuard(folder, 1)
    g.begin("clean", b"k")
    g.done("clean", b"k")
    assert CrashGuard(folder, 1).crashes("clean", b"k") == 0
    # One crash, then the message went through on the retry: its count is forgotten.
    _die_while(folder, "clean", b"k")
    g = CrashGuard(folder, 3)
    assert g.crashes("clean", b"k") == 1
    g.begin("clean", b"k")
    g.done("clean", b"k")
    assert CrashGuard(folder, 3).crashes("clean", b"k") == 0


def test_a_suspect_runs_alone():
    """A message with a crash against it waits for the steps already running and keeps new ones
    waiting, so a second death can only be its own."""
    from agents.guard import Isolation

    async def main() -> list[str]:
        iso, log = Isolation(), []
        release = asyncio.Event()

        async def normal(name: str, hold: asyncio.Event | None = None) -> None:
            async with iso.step(suspect=False):
                log.append(f"{name} start")
                if hold is not None:
                    await hold.wait()
                log.append(f"{name} end")

        async def suspect() -> None:
            async with iso.step(suspect=True):
                log.append("suspect start")
                await asyncio.sleep(0.05)
                log.append("suspect end")

        first = asyncio.create_task(normal("a", release))
        await asyncio.sleep(0.01)
        s = asyncio.create_task(suspect())
        await asyncio.sleep(0.01)
        later = asyncio.create_task(normal("b"))
        await asyncio.sleep(0.05)
        assert "suspect start" not in log and "b start" not in log  # a still runs; b waits for the suspect
        release.set()
        await asyncio.gather(first, s, later)
        return log

    assert asyncio.run(main()) == ["a start", "a end", "suspect start", "suspect end", "b start", "b end"]


async def _running_step_and_waiting_suspect(iso: Any) -> tuple[asyncio.Task[None], asyncio.Event, asyncio.Task[None]]:
    """A normal step that runs until its event is set, and a suspect already waiting for it."""
    release = asyncio.Event()

    async def hold() -> None:
        async with iso.step(suspect=False):
            await release.wait()

    async def suspect() -> None:
        async with iso.step(suspect=True):
            pass

    first = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(suspect())
    await asyncio.sleep(0.01)
    return first, release, waiting


async def _finishes(aw: Any) -> bool:
    try:
        await asyncio.wait_for(aw, timeout=2.0)
    except TimeoutError:
        return False
    return True


def test_a_suspect_cancelled_while_it_waits_does_not_block_the_others():
    """A suspect waiting for the running steps to finish may be cancelled (a rebalance or stop);
    the steps after it must then run, not wait for a suspect that will never come."""
    from agents.guard import Isolation

    async def main() -> bool:
        iso = Isolation()
        first, release, waiting = await _running_step_and_waiting_suspect(iso)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        release.set()
        await first

        async def later() -> None:
            async with iso.step(suspect=False):
                pass

        return await _finishes(later())

    assert asyncio.run(main()), "a step after the cancelled suspect waited forever"


def test_a_step_cancelled_on_its_way_out_does_not_block_a_suspect():
    """A step that finishes while another task holds the isolation's lock, and is cancelled then,
    must still give up its place: a suspect waiting for the running steps would wait forever."""
    from agents.guard import Isolation

    async def main() -> bool:
        iso = Isolation()
        first, release, waiting = await _running_step_and_waiting_suspect(iso)
        await iso._cond.acquire()  # someone else holds the lock as ``first`` leaves its step
        release.set()
        await asyncio.sleep(0.01)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        iso._cond.release()
        return await _finishes(waiting)

    assert asyncio.run(main()), "the suspect waited for a step that had been cancelled"


def test_a_death_during_a_batch_counts_against_each_of_its_messages(tmp_path: Path) -> None:
    """Each message of the batch becomes a suspect (and is then stepped alone); one that finishes
    on its own is forgotten, the others keep their count."""
    folder = tmp_path / "crashguard"
    keys = (b"a", b"\n", b"\x00\xff binary key")
    _die_while(folder, "entities", *keys)
    g = CrashGuard(folder, 2)
    assert [g.crashes("entities", k) for k in keys] == [1, 1, 1]
    assert g.crashes("entities", b"other") == 0 and g.crashes("clean", b"a") == 0
    g.begin("entities", b"a")
    g.done("entities", b"a")
    assert [CrashGuard(folder, 2).crashes("entities", k) for k in keys] == [0, 1, 1]
