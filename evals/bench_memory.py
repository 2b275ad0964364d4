"""``make bench-memory``: worker RSS over a long replay of a dated feed (issue 8: "it must stay flat").

    python -m evals.bench_memory [--articles N] [--step-minutes M] [--entity-mode fast|accurate]
                                 [--sample-every K] [--chunk C] [--out PATH]

What runs. A local broker (``deploy/kafka/launcher.py``, 4 partitions), one real ``newsflow worker``
(memory store, own topics, ``bench.Workers``) and ``N`` distinct articles (default 100,000) replayed
through it in chunks of ``C`` (default 500): a chunk is produced at once, and the next one only
after every article of it came out on the enriched topic, so the bench process never holds more
than one chunk of messages and latencies. The worker's RSS is read from ``/proc`` every ``K``
articles and at the end of every chunk; the file sink writes to a temporary folder that is deleted
at the end (100,000 enriched articles are about 1 GB).

Why chunks of 500. Each Faust agent prefetches up to ``stream_buffer_maxsize`` (4,096) unprocessed
messages, so a burst of input parks up to ~4,096 messages per stage in the worker's memory, and
CPython keeps most of that heap once it has grown. RSS then rises to the high-water mark of the
largest backlog seen, bounded by that setting, whatever the number of articles: on 30,000 articles
chunks of 5,000 ended at 699 MB (peak 730) and chunks of 500 at 550 MB (peak 563). Small chunks
keep that burst component small, so what is left is growth with the number of articles, which is
the question here; ``--chunk`` measures the burst effect. One slow, bounded component remains: the
file sink remembers the source of every article it wrote for the last ``sink_dedup_window`` offsets
of each partition (~140 bytes each, 0.14 MB per 1,000 articles; pruned once a partition holds twice
the window, i.e. at most ~115 MB over 4 partitions with the default 100,000).

The feed is dated, as a real one is. The articles are corpus variants (``bench.variants``: new id,
one sentence appended) whose ``published_at`` advances by ``--step-minutes`` per article (default 5,
ending at the start of the run), so the dedup window (``dedup_window_days``, 7 days of publication
time) holds about 2,000 articles at any moment, and the ``dedup_expiry`` timer (run every 30 s here,
``NEWSFLOW_DEDUP_EXPIRY_SECONDS=30``; 600 s by default) removes what falls out of it. The dedup
index grows by design *within* the window (~10 kB per article); an undated feed would never expire
anything (undated articles are stamped with the wall clock), so it cannot be flat and is not what
this measures. The readiness probes are dated at the start of the feed too, so they cannot pin the
"newest article seen" to the wall clock.

Why ``fast`` entity mode by default. The accurate NER runs ~23 articles/s through a worker on this
2-core machine (100,000 articles = 72 min); the NER model is a fixed-size object loaded once, so the
question of growth is about pipeline state (dedup tables and band index, the sink's remembered
sources, buffers), which fast mode exercises identically at about 5x the speed.
``--entity-mode accurate`` measures the other operating point.

Reported (table on stdout, JSON in ``out/bench_memory.json``): articles, seconds, articles/s; RSS
at the start (worker ready, before the replay), after warm-up (first 10 %) and at 25/50/75/100 %;
peak RSS (``VmHWM``); the least-squares slope of RSS over articles in the second half, in MB per
1,000 articles; how many expiry runs the worker logged and how many keys they removed.
Criterion: **flat** when the second-half slope is below 0.5 MB per 1,000 articles (i.e. under
25 MB over the 50,000 articles of the second half of the default run, against ~1 GB that an index
without expiry would grow over 100,000 articles).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.bench import (
    ROOT,
    Workers,
    as_messages,
    base_articles,
    load,
    local_broker,
    push_and_watch,
    slope,
    variants,
    wait_ready,
)

FLAT_MB_PER_1000 = 0.5
CHECKPOINTS = (0.10, 0.25, 0.50, 0.75, 1.00)
_EXPIRY_LOG = re.compile(r"dedup expiry removed (\d+) keys")


def dated(arts: list[Any], start: datetime, step: timedelta, first_index: int) -> list[Any]:
    """``arts`` with ``published_at`` = ``start + (first_index + i) * step``."""
    return [a.model_copy(update={"published_at": start + (first_index + i) * step}) for i, a in enumerate(arts)]


def chunk_articles(base: list[Any], first_index: int, n: int, start: datetime, step: timedelta) -> list[Any]:
    """Articles ``first_index .. first_index + n - 1`` of the feed: distinct corpus variants, dated."""
    return dated(variants(base, n, f"mem{first_index}-"), start, step, first_index)


def usable(base: list[Any]) -> list[Any]:
    """Corpus articles the clean stage accepts (a dead-lettered one never reaches the enriched topic,
    and the replay waits for every key there), one per id (the corpus has a few identical texts, and
    ids are content hashes: a repeated key would be one message fewer to wait for)."""
    from pipeline.enrich import clean_step

    ok: dict[str, Any] = {}
    for a in base:
        if a.id in ok:
            continue
        try:
            clean_step(a)
        except ValueError:
            continue
        ok[a.id] = a
    return list(ok.values())


def rss_at(samples: list[tuple[float, int, int]], progress: float) -> float:
    """RSS in MB of the first sample at or after ``progress`` articles (the last one if none)."""
    for _, p, r in samples:
        if p >= progress:
            return r / 1024
    return samples[-1][2] / 1024


def expiry_stats(log: Path) -> dict[str, int]:
    try:
        removed = [int(m[1]) for m in _EXPIRY_LOG.finditer(log.read_text(errors="replace"))]
    except OSError:
        return {"runs": 0, "keys_removed": 0}
    return {"runs": len(removed), "keys_removed": sum(removed)}


async def replay(
    w: Workers,
    base: list[Any],
    n: int,
    chunk: int,
    sample_every: int,
    start: datetime,
    step: timedelta,
    result: dict[str, Any],
) -> list[tuple[float, int, int]]:
    """Produce the feed chunk by chunk, each chunk waited for on the enriched topic; RSS samples as
    ``(time, articles done, kB)``."""
    samples = w.samples[0]
    samples.clear()
    w.sample(0)
    done, sent, seconds = 0, 0, 0.0
    next_sample = sample_every
    la = list(load())
    t_start = time.monotonic()
    while sent < n:
        size = min(chunk, n - sent)
        msgs = as_messages(chunk_articles(base, sent, size, start, step))

        def tick(seen: int, offset: int = done) -> None:  # called about once a second
            nonlocal next_sample
            if offset + seen >= next_sample:
                w.sample(offset + seen)
                next_sample = (offset + seen) // sample_every * sample_every + sample_every

        run = asyncio.create_task(
            push_and_watch(
                w.s, w.s.topic("enriched"), w.s.topic("raw"), msgs, timeout=max(600.0, size * 0.5), on_tick=tick
            )
        )
        while not run.done():  # a worker that crashed would otherwise cost the whole timeout
            await asyncio.wait({run}, timeout=5.0)
            if not run.done() and not w.alive():
                run.cancel()
                with contextlib.suppress(BaseException):
                    await run  # closes its producer and consumer
                raise RuntimeError(f"the worker exited; see {w.base}/worker0.log")
        flow = run.result()
        del msgs
        done += flow.seen
        sent += size
        seconds += flow.seconds
        w.sample(done)
        next_sample = done // sample_every * sample_every + sample_every
        la = [max(x, y) for x, y in zip(la, load(), strict=True)]
        missing = size - flow.seen
        print(
            f"  {done:>7d} articles  {time.monotonic() - t_start:7.0f} s  "
            f"{flow.rate:6.1f}/s this chunk  RSS {samples[-1][2] / 1024:6.0f} MB"
            + (f"  ({missing} missing)" if missing else ""),
            file=sys.stderr,
        )
        if not w.alive():
            raise RuntimeError(f"the worker exited; see {w.base}/worker0.log")
    result.update(
        articles=done,
        sent=sent,
        replay_seconds=seconds,
        wall_seconds=time.monotonic() - t_start,
        load_avg_max=[round(x, 2) for x in la],
    )
    return samples


def analyse(samples: list[tuple[float, int, int]], n: int, peak_mb: float) -> dict[str, Any]:
    second_half = [(float(p), r / 1024) for _, p, r in samples if p >= n / 2]
    s2 = 1000 * slope(second_half)
    return {
        "rss_start_mb": samples[0][2] / 1024,
        **{f"rss_at_{round(100 * c)}pct_mb": rss_at(samples, c * n) for c in CHECKPOINTS},
        "rss_second_half_min_mb": min(r for _, r in second_half) if second_half else None,
        "rss_second_half_max_mb": max(r for _, r in second_half) if second_half else None,
        "peak_rss_mb": peak_mb,
        "slope_mb_per_1000_articles_second_half": s2,
        "slope_mb_per_1000_articles_after_warm_up": 1000
        * slope([(float(p), r / 1024) for _, p, r in samples if p >= 0.1 * n]),
        "flat": s2 < FLAT_MB_PER_1000,
        "criterion": f"second-half slope < {FLAT_MB_PER_1000} MB per 1,000 articles",
    }


def table(r: dict[str, Any]) -> str:
    m = r["memory"]
    lines = [
        f"newsflow bench-memory  {r['when']}  cpus={r['cpus']}  entity mode {r['entity_mode']}  "
        f"step {r['step_minutes']:g} min/article  chunk {r['chunk']}  expiry every {r['expiry_seconds']:g} s",
        f"{'measure':34s} {'value':>12s}  note",
    ]

    def row(name: str, value: float, note: str = "", fmt: str = "{:12.1f}") -> None:
        lines.append(f"{name:34s} {fmt.format(value)}  {note}")

    row("articles", r["articles"], f"of {r['sent']} sent; corpus {r['corpus_articles']} + variants", "{:12.0f}")
    row("seconds", r["replay_seconds"], f"wall {r['wall_seconds']:.0f} s; max load {r['load_avg_max']}")
    row("articles/s", r["articles"] / r["replay_seconds"] if r["replay_seconds"] else 0.0)
    row("RSS start MB", m["rss_start_mb"], "worker ready, before the replay")
    row("RSS after warm-up (10 %) MB", m["rss_at_10pct_mb"])
    for c in (25, 50, 75, 100):
        row(f"RSS at {c} % MB", m[f"rss_at_{c}pct_mb"])
    if m["rss_second_half_min_mb"] is not None:
        row("RSS min..max second half MB", m["rss_second_half_max_mb"], f"min {m['rss_second_half_min_mb']:.1f}")
    row("peak RSS (VmHWM) MB", m["peak_rss_mb"])
    row(
        "slope MB/1000 art (2nd half)",
        m["slope_mb_per_1000_articles_second_half"],
        f"after warm-up: {m['slope_mb_per_1000_articles_after_warm_up']:.3f}",
        "{:12.3f}",
    )
    e = r["expiry"]
    row("dedup expiry runs", e["runs"], f"{e['keys_removed']} keys removed in all", "{:12.0f}")
    lines.append(f"verdict: {'flat' if m['flat'] else 'NOT flat'} ({m['criterion']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=100_000, help="articles replayed (default 100000)")
    ap.add_argument(
        "--step-minutes",
        type=float,
        default=5.0,
        help="publication time between consecutive articles (default 5: ~2,000 in 7 days)",
    )
    ap.add_argument("--entity-mode", choices=("fast", "balanced", "accurate"), default="fast")
    ap.add_argument("--sample-every", type=int, default=500, help="articles between RSS samples")
    ap.add_argument("--chunk", type=int, default=500, help="articles produced at once (default 500)")
    ap.add_argument(
        "--expiry-seconds", type=float, default=30.0, help="NEWSFLOW_DEDUP_EXPIRY_SECONDS of the worker (default 30)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench_memory.json")
    a = ap.parse_args(argv)
    if a.articles < 1 or a.chunk < 1 or a.sample_every < 1 or a.step_minutes <= 0:
        ap.error("--articles, --chunk, --sample-every and --step-minutes must be positive")

    where, base = base_articles()
    base = usable(base)
    step = timedelta(minutes=a.step_minutes)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - a.articles * step  # the feed ends now: no article from the future
    r: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_avg_start": load(),
        "corpus": where,
        "corpus_articles": len(base),
        "entity_mode": a.entity_mode,
        "step_minutes": a.step_minutes,
        "expiry_seconds": a.expiry_seconds,
        "chunk": a.chunk,
        "sample_every": a.sample_every,
        "feed_published_from": start.isoformat(),
        "feed_published_to": (start + (a.articles - 1) * step).isoformat(),
        "articles_in_window": round(7 * 86400 / step.total_seconds()),
        "settings": {"partitions": 4, "store": "memory://", "workers": 1},
    }
    print(
        f"corpus: {len(base)} articles from {where}; {a.articles} articles, published "
        f"{r['feed_published_from']} .. {r['feed_published_to']}; load {load()}",
        file=sys.stderr,
    )

    with local_broker("newsflow-bench-memory-") as (launcher, broker, tmp):
        w = Workers(
            launcher,
            broker.bootstrap,
            tmp / "w",
            1,
            "mem" + uuid.uuid4().hex[:6],
            extra={"NEWSFLOW_ENTITY_MODE": a.entity_mode, "NEWSFLOW_DEDUP_EXPIRY_SECONDS": f"{a.expiry_seconds:g}"},
        )
        try:
            probes = dated(variants(base[:8], 8, "probe"), start - step, timedelta(0), 0)
            ready = asyncio.run(wait_ready(w, as_messages(probes)))
            print(f"  worker ready in {ready:.0f}s", file=sys.stderr)
            samples = asyncio.run(replay(w, base, a.articles, a.chunk, a.sample_every, start, step, r))
            peak = w.peaks_mb()[0]
            r["expiry"] = expiry_stats(w.base / "worker0.log")
        finally:
            w.stop()

    r["memory"] = analyse(samples, r["articles"], peak)
    r["rss_samples_t0"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(samples[0][0]))
    r["rss_samples"] = [[round(t - samples[0][0], 1), p, round(rss / 1024, 1)] for t, p, rss in samples]
    r["load_avg_end"] = load()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(r, indent=1, default=str))
    print(table(r))
    print(f"(JSON: {a.out}; load at end {r['load_avg_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
