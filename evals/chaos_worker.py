"""A real ``newsflow worker`` with faults injected into its entity stage, for ``evals.chaos``.

    python -m evals.chaos_worker [--stall-marker S --stall-seconds 12] [--poison-marker P]
                                 [--drop-once enriched:0:3]

An article whose id contains the stall marker makes the entity step block its thread for
``--stall-seconds`` (``time.sleep``: what a CPU-bound step does to whatever thread runs it). One
whose id contains the poison marker kills the whole process with SIGKILL, every time it is
processed, as a stage that exhausts memory would get killed by the kernel. Everything else is the
unchanged worker: the patch wraps ``pipeline.enrich.entities_step`` and ``entities_batch_step``
before the agents import them.
``--drop-once TOPIC:PARTITION:OFFSET`` makes Faust's conductor swallow that record of the stage
topic ending in ``.TOPIC`` the first time it is fetched, as Faust itself sometimes does around a
start or a rebalance: it never reaches its agent and is never acknowledged.
The faults come from the command line so the worker's settings stay untouched.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any


def install(stall_marker: str | None, stall_seconds: float, poison_marker: str | None) -> None:
    import pipeline.enrich as enrich

    real, real_batch = enrich.entities_step, enrich.entities_batch_step

    def fault(article: Any) -> None:
        if poison_marker and poison_marker in article.id:
            os.kill(os.getpid(), signal.SIGKILL)
        if stall_marker and stall_marker in article.id:
            time.sleep(stall_seconds)

    def faulty(article: Any, *args: Any, **kwargs: Any) -> Any:
        fault(article)
        return real(article, *args, **kwargs)

    def faulty_batch(articles: Any, *args: Any, **kwargs: Any) -> Any:
        for article in articles:
            fault(article)
        return real_batch(articles, *args, **kwargs)

    enrich.entities_step = faulty  # type: ignore[assignment]
    enrich.entities_batch_step = faulty_batch  # type: ignore[assignment]


def drop_once(spec: str) -> None:
    from faust.transport.conductor import Conductor

    suffix, partition, offset = spec.rsplit(":", 2)
    target = (f".{suffix}", int(partition), int(offset))
    compile_handler = Conductor._compile_message_handler
    dropped: list[bool] = []

    def compiled(self: Any) -> Any:
        handler = compile_handler(self)

        async def on_message(message: Any) -> None:
            if not dropped and (message.topic.endswith(target[0]), message.partition, message.offset) == (
                True,
                target[1],
                target[2],
            ):
                dropped.append(True)
                print(f"chaos_worker: dropped {message.topic}[{message.partition}]@{message.offset}", flush=True)
                return None
            return await handler(message)

        return on_message

    Conductor._compile_message_handler = compiled  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stall-marker")
    ap.add_argument("--stall-seconds", type=float, default=12.0)
    ap.add_argument("--poison-marker")
    ap.add_argument("--drop-once", metavar="TOPIC:PARTITION:OFFSET")
    a = ap.parse_args(argv)
    install(a.stall_marker, a.stall_seconds, a.poison_marker)
    if a.drop_once:
        drop_once(a.drop_once)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.argv = [sys.argv[0], "worker"]  # Faust's Worker reads its own command line
    from newsflow.worker import run_worker

    return run_worker()


if __name__ == "__main__":
    sys.exit(main())
