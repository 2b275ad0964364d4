"""Profile of the worker path: one real ``newsflow worker`` under cProfile, fed real articles.

    python -m evals.bench_profile [--articles 300] [--dedup-only] [--out out/bench_worker_profile.txt]

The worker process loads its models first (outside the profile), then runs ``run_worker`` with the
profiler on until it is stopped (SIGTERM; the profile is written on the way out). ``select/epoll``
time in the report is the event loop waiting, i.e. idle. ``--dedup-only`` feeds pre-classified
articles to the classified topic instead, so only the dedup and sink agents work.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import testing
from evals.bench import (
    ROOT,
    Workers,
    as_messages,
    base_articles,
    e2e,
    load,
    run_compute,
    summarise_profile,
    variants,
    wait_ready,
)

PROJECT = ("/agents/", "/pipeline/", "/newsflow/", "/schemas/")


class Sampler(threading.Thread):
    """Wall-clock stack sampler over every thread (cProfile sees only the event-loop thread, and
    the stateless stages run in ``asyncio.to_thread`` workers)."""

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True, name="bench-sampler")
        self.interval = interval
        self.samples = 0
        self.leaf: Counter[str] = Counter()
        self.cum: Counter[str] = Counter()
        self.project: Counter[str] = Counter()
        self.stop_flag = threading.Event()

    @staticmethod
    def _fname(code: Any) -> str:
        return f"{code.co_filename.rsplit('site-packages/', 1)[-1]}:{code.co_firstlineno}({code.co_name})"

    def run(self) -> None:
        me = threading.get_ident()
        names = {}
        while not self.stop_flag.wait(self.interval):
            names = {t.ident: t.name for t in threading.enumerate()} if self.samples % 200 == 0 else names
            self.samples += 1
            for ident, frame in sys._current_frames().items():  # noqa: SLF001
                if ident == me:
                    continue
                role = "loop" if names.get(ident) == "MainThread" else "thread"
                self.leaf[f"[{role}] {self._fname(frame.f_code)}"] += 1
                seen: set[str] = set()
                f: Any = frame
                first_project = None
                while f is not None:
                    n = self._fname(f.f_code)
                    if n not in seen:
                        seen.add(n)
                        self.cum[f"[{role}] {n}"] += 1
                    if first_project is None and any(p in f.f_code.co_filename for p in PROJECT):
                        first_project = n
                    f = f.f_back
                if first_project:
                    self.project[f"[{role}] {first_project}"] += 1

    def report(self, top: int = 30) -> str:
        out = [
            f"stack samples every {self.interval * 1000:.0f} ms: {self.samples} "
            "(counts are per thread; idle threads sit in epoll/queue waits)"
        ]
        for title, c in (
            ("leaf (self) frames", self.leaf),
            ("innermost project frame", self.project),
            ("cumulative (on stack)", self.cum),
        ):
            out.append(f"\n--- {title}")
            out += [f"{n:7d} {100 * n / max(1, self.samples):6.1f}%  {k}" for k, n in c.most_common(top)]
        return "\n".join(out)


def _child(path: str) -> None:
    """Runs inside the worker process."""
    from newsflow.worker import run_worker
    from pipeline.enrich import warm_up

    warm_up()
    prof = cProfile.Profile()
    sampler = Sampler()
    sampler.start()
    prof.enable()
    try:
        run_worker()
    finally:
        prof.disable()
        sampler.stop_flag.set()
        prof.dump_stats(path)
        Path(path + ".samples.txt").write_text(sampler.report())


async def _run(launcher, bootstrap: str, base: Path, arts, classified, prof_path: Path, dedup_only: bool):  # type: ignore[no-untyped-def]
    w = Workers(launcher, bootstrap, base, 0, "p" + uuid.uuid4().hex[:6])
    env = {**os.environ, **w.env, "NEWSFLOW_WEB_PORT": str(launcher.free_port())}
    log = open(base / "worker0.log", "ab")  # noqa: SIM115 - lives as long as the worker
    w.procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "evals.bench_profile", "--child", str(prof_path)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    w.samples = [[]]
    try:
        await wait_ready(w, as_messages(variants(arts[:8], 8, "probe")))
        if dedup_only:
            msgs = [c.model_copy(update={"id": f"{c.id}-dd"}) for c in classified]
            flow, la = await e2e(w, msgs, in_stage="classified")
        else:
            flow, la = await e2e(w, arts)
        print(f"{flow.seen} articles in {flow.seconds:.1f}s = {flow.rate:.1f}/s under cProfile; load {la}")
    finally:
        w.stop()
    for _ in range(50):
        if prof_path.exists():
            break
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--dedup-only", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child)
        return 0
    out = a.out or ROOT / "out" / ("bench_worker_profile_dedup.txt" if a.dedup_only else "bench_worker_profile.txt")
    _where, base = base_articles()
    arts = variants(base, a.articles, "")
    classified = run_compute(arts).classified if a.dedup_only else []
    launcher = testing.launcher()
    tmp = Path(tempfile.mkdtemp(prefix="newsflow-bench-prof-"))
    prof_path = tmp / "worker.prof"
    broker = launcher.start(port=launcher.free_port(), data=tmp / "kafka", partitions=4)
    try:
        print(f"load {load()}", file=sys.stderr)
        asyncio.run(_run(launcher, broker.bootstrap, tmp / "w", arts, classified, prof_path, a.dedup_only))
        text, _top = summarise_profile(str(prof_path), a.top)
        samples = Path(str(prof_path) + ".samples.txt")
        text = (samples.read_text() if samples.exists() else "(no stack samples)") + "\n\n" + text
        buf = io.StringIO()
        pstats.Stats(str(prof_path), stream=buf).strip_dirs().print_callers(r"__init__.py:\d+\(debug\)")
        text += "\n\n--- who logs at debug level\n" + buf.getvalue()
        shutil.copy(prof_path, out.with_suffix(".prof"))
    finally:
        launcher.stop(tmp / "kafka")
        shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text[:9000])
    print(f"(full report: {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
