"""``make bench``: throughput, latency and memory of newsflow on one machine, in one run.

    python -m evals.bench [--quick] [--articles N] [--long N] [--latency-seconds S] [--out PATH]

Sections (printed as a table and written as JSON to ``out/bench.json``):

1. ``compute``   the four stages in one process (``clean_step`` → ``entities_batch_step`` over
                 ``settings.entity_batch`` articles, as the entities agent batches →
                 ``classify_step`` → ``dedup_step``) over real news articles: articles/s, words/s
                 (words of the raw body), each stage's share; plus the JSON (de)serialisation the
                 streaming path adds.
2. ``kafka``     produce → consume pass-through of the same RawArticle JSON messages with aiokafka
                 (producer settings of ``newsflow.kafka.producer``), no processing, same broker.
3. ``e2e_1w`` / ``e2e_2w``   real ``newsflow worker`` processes (1, then 2; 4 partitions, memory
                 store, own topics): first produce → last enriched message seen on the output topic.
4. ``latency``   1 worker, paced at half of the measured 1-worker maximum: produce timestamp (set
                 explicitly on the raw record) → Kafka CreateTime of the enriched record (stamped by
                 the worker's producer when the dedup stage emits it; the file sink adds at most
                 ``sink_flush_seconds`` of batching on top).
5. ``dedup``     the dedup stage alone through the worker: pre-classified articles produced straight
                 to the (1-partition) classified topic → enriched topic; the pipeline's serial cap.
6. ``memory``    peak RSS (``VmHWM``) per worker, and RSS sampled during a long replay of ``--long``
                 distinct articles (corpus variants) with the slope over the second half.
7. ``ratios``    end-to-end / min(compute ceiling, Kafka ceiling).

Corpus: ``../shared/data/bbc/*/*.txt`` (title on line 1), read at run time; ``seeds/`` if absent.
Counts above the corpus size are made of variants (new id, one sentence appended), so every
message is distinct; variants are near-duplicates of the originals, so the long replay is a
syndication-heavy case for the dedup index (its band buckets grow with every copy).
The machine's load average is recorded next to every timed section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import platform
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import testing
from newsflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "bbc"
SEEDS = ROOT / "seeds"
STAGES = ("clean", "entities", "classify", "dedup")


def load() -> tuple[float, float, float]:
    return os.getloadavg()


# --- corpus ----------------------------------------------------------------------------------------


def corpus_files() -> tuple[str, list[Path]]:
    files = sorted(CORPUS.glob("*/*.txt"))
    if files:
        return str(CORPUS), files
    return str(SEEDS), sorted(f for f in SEEDS.rglob("*") if f.is_file() and not f.name.startswith("."))


def base_articles() -> tuple[str, list[Any]]:
    from newsflow.backlog import from_text

    where, files = corpus_files()
    arts = [from_text(f.read_text(encoding="utf-8", errors="replace"), source=f"bench:{f.parent.name}") for f in files]
    return where, arts


def variants(base: list[Any], n: int, tag: str) -> list[Any]:
    """``n`` distinct RawArticles: the corpus, then copies with a new id and one sentence appended."""
    out = []
    for i in range(n):
        a = base[i % len(base)]
        k = i // len(base)
        if k == 0 and not tag:
            out.append(a)
        else:
            ref = f"{tag}{k}"
            out.append(
                a.model_copy(update={"id": f"{a.id}-{ref}", "body": f"{a.body}\n\nReference {ref} of this report."})
            )
    return out


# --- 1. compute ceiling ----------------------------------------------------------------------------


@dataclass
class Compute:
    articles: int = 0
    words: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    serde_seconds: float = 0.0
    failed: list[str] = field(default_factory=list)
    classified: list[Any] = field(default_factory=list)
    warm_up_seconds: float = 0.0

    def report(self) -> dict[str, Any]:
        total = sum(self.seconds.values())
        return {
            "articles": self.articles,
            "words": self.words,
            "seconds": round(total, 3),
            "articles_per_s": self.articles / total,
            "words_per_s": self.words / total,
            "ms_per_article": 1000 * total / self.articles,
            "stage_share": {k: v / total for k, v in self.seconds.items()},
            "stage_articles_per_s": {k: self.articles / v for k, v in self.seconds.items()},
            "serde_ms_per_article": 1000 * self.serde_seconds / self.articles,
            "dead_lettered": len(self.failed),
            "warm_up_seconds": self.warm_up_seconds,
        }


def run_compute(arts: list[Any]) -> Compute:
    """Each stage timed separately, in the order and with the state the worker uses: the entities
    stage tags ``settings.entity_batch`` articles per call, as the entities agent does with the
    messages it takes together (the others step one article at a time)."""
    from newsflow.settings import get_settings
    from pipeline.dedup import DedupIndex
    from pipeline.enrich import classify_step, clean_step, dedup_step, entities_batch_step, warm_up
    from schemas import ClassifiedArticle, CleanedArticle, RawArticle, TaggedArticle

    settings = get_settings()
    mode = settings.entity_mode  # what the worker's entities agent uses
    c = Compute()
    t = time.perf_counter()
    warm_up()
    c.warm_up_seconds = time.perf_counter() - t
    index = DedupIndex()
    pc = time.perf_counter
    for start in range(0, len(arts), settings.entity_batch):
        batch = []
        for raw in arts[start : start + settings.entity_batch]:
            t0 = pc()
            try:
                batch.append((raw, clean_step(raw)))
            except ValueError:
                c.failed.append(raw.id)
            c.seconds["clean"] += pc() - t0
        t1 = pc()
        tagged_batch = entities_batch_step([cleaned for _, cleaned in batch], mode)
        c.seconds["entities"] += pc() - t1
        for (raw, cleaned), tagged in zip(batch, tagged_batch, strict=True):
            t2 = pc()
            classified = classify_step(tagged)
            t3 = pc()
            enriched = dedup_step(classified, index)
            t4 = pc()
            c.seconds["classify"] += t3 - t2
            c.seconds["dedup"] += t4 - t3
            # What the streaming path adds: every stage parses its input and serialises its output.
            s0 = pc()
            RawArticle.from_bytes(raw.to_bytes())
            CleanedArticle.from_bytes(cleaned.to_bytes())
            TaggedArticle.from_bytes(tagged.to_bytes())
            ClassifiedArticle.from_bytes(classified.to_bytes())
            enriched.to_bytes()
            c.serde_seconds += pc() - s0
            c.articles += 1
            c.words += len((raw.body or "").split())
            c.classified.append(classified)
    return c


SHORT_WORDS = 30


def run_classify_short(classified: list[Any]) -> dict[str, float]:
    """The classify stage on short items made from the corpus (its headlines alone, and headline +
    the first ``SHORT_WORDS`` words), articles/s: the sentence encoder reads these, and no BBC
    article is short enough for it, so the compute ceiling above never pays for it."""
    from pipeline.classify import classify

    crops = {
        "title only": [(a.title, "") for a in classified if a.title],
        f"title + {SHORT_WORDS} words": [(a.title, " ".join(a.text.split()[:SHORT_WORDS])) for a in classified],
    }
    out = {}
    for name, items in crops.items():
        t0 = time.perf_counter()
        for title, text in items:
            classify(title, text)
        out[name] = len(items) / (time.perf_counter() - t0)
    return out


def profile_compute(arts: list[Any], top: int = 25) -> tuple[str, list[dict[str, Any]]]:
    """cProfile of ``Enricher`` over ``arts`` (already warmed up): text report and the top functions."""
    from newsflow.settings import get_settings
    from pipeline.enrich import Enricher

    enricher = Enricher(entity_mode=get_settings().entity_mode)
    prof = cProfile.Profile()
    prof.enable()
    for a in arts:
        with contextlib.suppress(ValueError):
            enricher(a)
    prof.disable()
    return summarise_profile(prof, top)


def summarise_profile(prof: cProfile.Profile | str, top: int = 25) -> tuple[str, list[dict[str, Any]]]:
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)  # type: ignore[arg-type]
    st.strip_dirs()
    total = st.total_tt  # type: ignore[attr-defined]
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    rows = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{fname}:{line}({func})",
                "calls": nc,
                "tottime_share": tt / total,
                "cumtime_share": ct / total,
            }
        )
    rows.sort(key=lambda r: -r["tottime_share"])
    return buf.getvalue(), rows[:top]


# --- Kafka helpers ---------------------------------------------------------------------------------


def settings_for(bootstrap: str, tag: str, base: Path, web_port: int = 0, **extra: str) -> dict[str, str]:
    """NEWSFLOW_* environment isolating one app (like tests/conftest.py ``pipeline_env``)."""
    env = testing.isolated_env(bootstrap, base, "bench", tag)
    if web_port:
        env["NEWSFLOW_WEB_PORT"] = str(web_port)
    env.update(extra)
    return env


def rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in kB; (0, 0) once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    vals = {ln.split(":")[0]: int(ln.split()[1]) for ln in status.splitlines() if ln.startswith(("VmRSS", "VmHWM"))}
    return vals.get("VmRSS", 0), vals.get("VmHWM", 0)


@dataclass
class Flow:
    """Result of pushing messages through a topic and watching another one."""

    sent: int = 0
    seen: int = 0
    bytes: int = 0
    first_send: float = 0.0
    last_seen: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.last_seen - self.first_send

    @property
    def rate(self) -> float:
        return self.seen / self.seconds if self.seconds > 0 else 0.0


async def push_and_watch(
    s: Any,
    out_topic: str,
    in_topic: str,
    messages: list[tuple[bytes, bytes]],
    *,
    rate: float | None = None,
    timeout: float = 600.0,
    on_tick: Callable[[int], None] | None = None,
    producer_kw: dict[str, Any] | None = None,
) -> Flow:
    """Produce ``messages`` (key, value) to ``in_topic`` (paced at ``rate``/s if given) while a consumer
    on ``out_topic`` (started at its log end) waits for every key; latency = out CreateTime − send."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from newsflow.kafka import producer

    flow = Flow()
    keys = {k for k, _ in messages}
    sent_at: dict[bytes, float] = {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=52_428_800,
        max_partition_fetch_bytes=10_485_760,
        **s.kafka_client_kwargs(),
    )
    await consumer.start()
    try:
        for attempt in range(30):  # a topic just created may have no leader yet
            try:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - first contact
                tps = [TopicPartition(out_topic, p) for p in sorted(consumer.partitions_for_topic(out_topic) or ())]
                if not tps:
                    raise LookupError(f"no partitions for {out_topic}")
                consumer.assign(tps)
                await consumer.seek_to_end(*tps)
                for tp in tps:
                    await consumer.position(tp)
                break
            except Exception:
                if attempt == 29:
                    raise
                await asyncio.sleep(1)
    except BaseException:
        await consumer.stop()
        raise
    prod = producer(s, **(producer_kw or {}))
    await prod.start()
    got: set[bytes] = set()
    done = asyncio.Event()

    async def consume() -> None:
        last_tick = 0.0
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    if r.key in keys and r.key not in got:
                        got.add(r.key)
                        flow.last_seen = now
                        if r.key in sent_at:
                            flow.latencies_ms.append(r.timestamp - sent_at[r.key] * 1000)
            if on_tick and now - last_tick >= 1.0:
                on_tick(len(got))
                last_tick = now
            if len(got) >= len(keys):
                done.set()

    task = asyncio.create_task(consume())
    try:
        flow.first_send = time.time()
        started = time.monotonic()
        for n, (key, value) in enumerate(messages):
            if rate:
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            ts = time.time()
            sent_at[key] = ts
            await prod.send(in_topic, key=key, value=value, timestamp_ms=int(ts * 1000))
            flow.sent += 1
            flow.bytes += len(value)
        await prod.flush()
        try:
            await asyncio.wait_for(done.wait(), timeout)
        except TimeoutError:
            print(f"  timeout: {len(got)} of {len(keys)} seen on {out_topic}", file=sys.stderr)
    finally:
        done.set()
        await task
        await prod.stop()
        await consumer.stop()
    flow.seen = len(got)
    return flow


def percentiles(xs: Iterable[float]) -> dict[str, float]:
    v = sorted(xs)
    if not v:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "n": 0}

    def q(p: float) -> float:
        return v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))]

    return {"p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": v[-1], "n": len(v)}


# --- 2. Kafka ceiling ------------------------------------------------------------------------------


async def run_kafka_ceiling(bootstrap: str, base: Path, payloads: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    from newsflow.kafka import ensure_topics

    tag = uuid.uuid4().hex[:8]
    s = Settings.from_env(settings_for(bootstrap, "k" + tag, base))
    await ensure_topics(s)
    la = load()
    # Pass-through: raw topic → the consumer reads the very same topic.
    flow = await push_and_watch(s, s.topic("raw"), s.topic("raw"), payloads, timeout=300)
    return {
        "messages": flow.seen,
        "seconds": flow.seconds,
        "messages_per_s": flow.rate,
        "mb_per_s": flow.bytes / 1e6 / flow.seconds,
        "bytes_per_message": flow.bytes / max(1, flow.sent),
        "partitions": s.partitions,
        "load_avg": la,
    }


@contextlib.contextmanager
def local_broker(prefix: str) -> Iterator[tuple[Any, Any, Path]]:
    """``testing.local_broker``, kept with ``NEWSFLOW_BENCH_KEEP=1``."""
    with testing.local_broker(prefix, keep=bool(os.environ.get("NEWSFLOW_BENCH_KEEP"))) as got:
        yield got


# --- 3-6. workers ----------------------------------------------------------------------------------


class Workers:
    """``n`` real worker processes of one app, with RSS sampling."""

    def __init__(
        self, launcher: Any, bootstrap: str, base: Path, n: int, tag: str, extra: dict[str, str] | None = None
    ) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.env = {**settings_for(bootstrap, tag, base), **(extra or {})}
        self.s = Settings.from_env(self.env)
        self.procs = []
        self.samples: list[list[tuple[float, int, int]]] = [[] for _ in range(n)]
        for i in range(n):
            env = {
                **self.env,
                "NEWSFLOW_WEB_PORT": str(launcher.free_port()),
                "NEWSFLOW_DATA_DIR": str(base / f"faust{i}"),
            }
            self.procs.append(testing.start_worker(env, log=base / f"worker{i}.log"))

    def sample(self, progress: int = 0) -> None:
        for i, p in enumerate(self.procs):
            rss, _ = rss_kb(p.pid)
            self.samples[i].append((time.time(), progress, rss))

    def peaks_mb(self) -> list[float]:
        return [rss_kb(p.pid)[1] / 1024 for p in self.procs]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            testing.stop_worker(p)


async def wait_ready(w: Workers, probes: list[tuple[bytes, bytes]], timeout: float = 300.0) -> float:
    """Until a probe per partition comes out at the end (models loaded, partitions assigned)."""
    from newsflow.kafka import ensure_topics

    t = time.monotonic()
    deadline = t + timeout
    await ensure_topics(w.s)  # what the worker does first; the same partition counts
    while time.monotonic() < deadline:
        if not w.alive():
            raise RuntimeError(f"a worker exited; see {w.base}/worker*.log")
        try:
            flow = await push_and_watch(
                w.s,
                w.s.topic("enriched"),
                w.s.topic("raw"),
                [(k + uuid.uuid4().hex[:6].encode(), v) for k, v in probes],
                timeout=min(120.0, deadline - time.monotonic()),
            )
        except Exception as exc:  # noqa: BLE001 - topics may not exist yet
            print(f"  waiting for workers: {type(exc).__name__}: {exc}", file=sys.stderr)
            await asyncio.sleep(2)
            continue
        if flow.seen == len(probes):
            return time.monotonic() - t
    raise TimeoutError("workers did not process the probes")


def as_messages(arts: list[Any]) -> list[tuple[bytes, bytes]]:
    return [(a.id.encode(), a.to_bytes()) for a in arts]


async def e2e(
    w: Workers, arts: list[Any], rate: float | None = None, timeout: float = 900.0, in_stage: str = "raw"
) -> tuple[Flow, tuple[float, float, float]]:
    la0 = load()
    flow = await push_and_watch(
        w.s, w.s.topic("enriched"), w.s.topic(in_stage), as_messages(arts), rate=rate, timeout=timeout, on_tick=w.sample
    )
    la1 = load()
    return flow, tuple(round(max(a, b), 2) for a, b in zip(la0, la1, strict=True))  # type: ignore[return-value]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


async def run_workers(
    launcher: Any,
    bootstrap: str,
    base: Path,
    base_arts: list[Any],
    n_articles: int,
    n_long: int,
    latency_seconds: float,
    classified: list[Any],
    probes: list[Any],
    result: dict[str, Any],
    timeout: float,
) -> None:
    e2e_arts = variants(base_arts, n_articles, "")
    probe_msgs = as_messages(probes)
    # --- 1 worker: throughput, latency at half of it, dedup alone, long replay -----------------------
    w1 = Workers(launcher, bootstrap, base / "w1", 1, "1w" + uuid.uuid4().hex[:6])
    try:
        ready = await wait_ready(w1, probe_msgs)
        print(f"  1 worker ready in {ready:.0f}s", file=sys.stderr)
        flow, la = await e2e(w1, e2e_arts, timeout=timeout)
        result["e2e_1w"] = {
            "articles": flow.seen,
            "sent": flow.sent,
            "seconds": flow.seconds,
            "articles_per_s": flow.rate,
            "load_avg": la,
        }
        print(f"  e2e 1 worker: {flow.rate:.1f}/s", file=sys.stderr)

        rate = max(0.5, flow.rate / 2)
        n_lat = max(10, int(rate * latency_seconds))
        lat_arts = variants(base_arts, n_lat, "lat")
        flow, la = await e2e(w1, lat_arts, rate=rate, timeout=timeout)
        result["latency"] = {
            "offered_per_s": rate,
            "achieved_per_s": flow.rate,
            "articles": flow.seen,
            **percentiles(flow.latencies_ms),
            "load_avg": la,
            "measured": "raw record timestamp (set at send) -> enriched record CreateTime",
        }
        print(f"  latency at {rate:.1f}/s: p50 {result['latency']['p50_ms']:.0f} ms", file=sys.stderr)

        dd = [c.model_copy(update={"id": f"{c.id}-dd", "text": f"{c.text}\nFiled as dd."}) for c in classified]
        flow, la = await e2e(w1, dd, timeout=timeout, in_stage="classified")
        result["dedup_stage"] = {
            "articles": flow.seen,
            "seconds": flow.seconds,
            "articles_per_s": flow.rate,
            "partitions": w1.s.dedup_partitions,
            "load_avg": la,
            "measured": "ClassifiedArticle produced to the classified topic -> enriched",
        }
        print(f"  dedup stage alone: {flow.rate:.1f}/s", file=sys.stderr)

        long_arts = variants(base_arts, n_long, "long")
        w1.samples[0].clear()
        w1.sample(0)
        flow, la = await e2e(w1, long_arts, timeout=max(timeout, n_long / 2))
        w1.sample(flow.seen)
        samples = w1.samples[0]
        half = [(p, r / 1024) for _, p, r in samples if p >= flow.seen / 2]
        result["memory"] = {
            "long_articles": flow.seen,
            "long_seconds": flow.seconds,
            "long_articles_per_s": flow.rate,
            "rss_samples_mb": [[round(t - samples[0][0], 1), p, round(r / 1024, 1)] for t, p, r in samples],
            "rss_start_mb": samples[0][2] / 1024,
            "rss_end_mb": samples[-1][2] / 1024,
            "slope_mb_per_1000_articles_second_half": 1000 * slope(half),
            "slope_mb_per_1000_articles_all": 1000 * slope([(p, r / 1024) for _, p, r in samples]),
            "peak_rss_mb_1w": w1.peaks_mb(),
            "load_avg": la,
            "long_corpus": "near-duplicate variants of the corpus (new id, one sentence appended)",
        }
        print(
            f"  long replay: {flow.seen} articles, RSS {samples[0][2] / 1024:.0f} -> {samples[-1][2] / 1024:.0f} MB",
            file=sys.stderr,
        )
    finally:
        w1.stop()
    # --- 2 workers: throughput ---------------------------------------------------------------------
    w2 = Workers(launcher, bootstrap, base / "w2", 2, "2w" + uuid.uuid4().hex[:6])
    try:
        ready = await wait_ready(w2, probe_msgs)
        await asyncio.sleep(3)  # let a late rebalance settle before timing
        await wait_ready(w2, probe_msgs)
        print(f"  2 workers ready in {ready:.0f}s", file=sys.stderr)
        flow, la = await e2e(w2, e2e_arts, timeout=timeout)
        result["e2e_2w"] = {
            "articles": flow.seen,
            "sent": flow.sent,
            "seconds": flow.seconds,
            "articles_per_s": flow.rate,
            "load_avg": la,
        }
        result["memory"]["peak_rss_mb_2w"] = w2.peaks_mb()
        print(f"  e2e 2 workers: {flow.rate:.1f}/s", file=sys.stderr)
    finally:
        w2.stop()


# --- report ----------------------------------------------------------------------------------------


def table(r: dict[str, Any]) -> str:
    c, k = r["compute"], r["kafka"]
    lines = [
        f"newsflow bench  {r['when']}  cpus={r['cpus']}  load at start {r['load_avg_start']}  "
        f"corpus {r['corpus']} ({r['corpus_articles']} articles)",
        f"{'section':34s} {'value':>14s}  note",
    ]

    def row(name: str, value: float, note: str = "", fmt: str = "{:14.1f}") -> None:
        lines.append(f"{name:34s} {fmt.format(value)}  {note}")

    row("compute ceiling articles/s", c["articles_per_s"], f"{c['articles']} articles, 1 process")
    row("compute ceiling words/s", c["words_per_s"], f"{c['ms_per_article']:.0f} ms/article")
    for st in STAGES:
        row(f"  {st} share", 100 * c["stage_share"][st], f"% ({c['stage_articles_per_s'][st]:.0f} art/s alone)")
    row("  serde the stream adds ms/art", c["serde_ms_per_article"], "4 parses + 5 to_bytes")
    for name, per_s in r.get("classify_short", {}).items():
        row(f"classify, {name} art/s", per_s, "short items read the sentence encoder")
    row("kafka ceiling messages/s", k["messages_per_s"], f"{k['messages']} msgs, {k['mb_per_s']:.1f} MB/s")
    row("e2e 1 worker articles/s", r["e2e_1w"]["articles_per_s"], f"load {r['e2e_1w']['load_avg']}")
    row("e2e 2 workers articles/s", r["e2e_2w"]["articles_per_s"], f"load {r['e2e_2w']['load_avg']}")
    row("dedup stage alone articles/s", r["dedup_stage"]["articles_per_s"], "1 partition, via the worker")
    lat = r["latency"]
    row("latency p50 ms", lat["p50_ms"], f"at {lat['offered_per_s']:.1f}/s offered, n={lat['n']}")
    row("latency p95 ms", lat["p95_ms"])
    row("latency p99 ms", lat["p99_ms"])
    m = r["memory"]
    row("peak RSS 1 worker MB", max(m["peak_rss_mb_1w"]))
    row("peak RSS 2 workers MB (each)", max(m["peak_rss_mb_2w"]), " / ".join(f"{x:.0f}" for x in m["peak_rss_mb_2w"]))
    row("long replay articles", m["long_articles"], f"{m['long_articles_per_s']:.1f}/s", "{:14.0f}")
    row("  RSS start -> end MB", m["rss_end_mb"], f"from {m['rss_start_mb']:.0f}")
    row(
        "  RSS slope MB/1000 art (2nd half)",
        m["slope_mb_per_1000_articles_second_half"],
        f"all: {m['slope_mb_per_1000_articles_all']:.2f}",
        "{:14.2f}",
    )
    for name, v in r["ratios"].items():
        row(f"ratio {name}", v, "", "{:14.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short smoke run (small counts)")
    ap.add_argument("--articles", type=int, help="articles per throughput run (default 400; quick 12)")
    ap.add_argument("--long", type=int, help="articles in the long replay for RSS (default 2000; quick 40)")
    ap.add_argument("--latency-seconds", type=float, help="duration of the paced run (default 60; quick 8)")
    ap.add_argument("--profile-articles", type=int, help="articles under cProfile (default 100; quick 5)")
    ap.add_argument("--kafka-messages", type=int, help="messages for the Kafka ceiling (default 20000)")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    a = ap.parse_args(argv)
    q = a.quick
    n_articles = a.articles or (12 if q else 400)
    n_long = a.long if a.long is not None else (40 if q else 2000)
    lat_s = a.latency_seconds or (8.0 if q else 60.0)
    n_prof = a.profile_articles if a.profile_articles is not None else (5 if q else 100)
    n_kafka = a.kafka_messages or (500 if q else 20000)

    r: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_start": load(),
        "args": {"articles": n_articles, "long": n_long, "latency_seconds": lat_s, "quick": q},
    }
    where, base_arts = base_articles()
    r["corpus"], r["corpus_articles"] = where, len(base_arts)
    from newsflow.settings import get_settings

    st = get_settings()
    r["settings"] = {
        "entity_mode": st.entity_mode,
        "stage_threads": getattr(st, "stage_threads", None),
        "partitions": 4,
        "dedup_partitions": st.dedup_partitions,
        "store": "memory://",
    }
    print(f"corpus: {len(base_arts)} articles from {where}; load {load()}", file=sys.stderr)

    # 1. compute ceiling
    arts = variants(base_arts, n_articles, "")
    la = load()
    comp = run_compute(arts)
    r["compute"] = {**comp.report(), "load_avg": la}
    print(f"  compute: {r['compute']['articles_per_s']:.1f} art/s", file=sys.stderr)
    r["classify_short"] = run_classify_short(comp.classified)
    if n_prof:
        text, top = profile_compute(variants(base_arts, n_prof, "prof"))
        r["profile_compute_top"] = top
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.with_name(a.out.stem + "_profile.txt").write_text(text)
    ok = [x for x in arts if x.id not in set(comp.failed)]
    ok_base = [x for x in base_arts if x.id not in set(comp.failed)] or ok

    with local_broker("newsflow-bench-") as (launcher, broker, tmp):
        # 2. Kafka ceiling: the same RawArticle messages, as many as n_kafka (variants beyond the corpus)
        payloads = as_messages(variants(ok_base, n_kafka, "kc"))
        r["kafka"] = asyncio.run(run_kafka_ceiling(broker.bootstrap, tmp, payloads))
        print(f"  kafka: {r['kafka']['messages_per_s']:.0f} msg/s", file=sys.stderr)
        # 3-6.
        probes = variants(ok_base[:8], 8, "probe")
        timeout = max(300.0, n_articles * 2.0)
        asyncio.run(
            run_workers(
                launcher, broker.bootstrap, tmp, ok_base, len(ok), n_long, lat_s, comp.classified, probes, r, timeout
            )
        )

    ceiling = min(r["compute"]["articles_per_s"], r["kafka"]["messages_per_s"])
    r["ratios"] = {
        "e2e_1w / min(compute, kafka)": r["e2e_1w"]["articles_per_s"] / ceiling,
        "e2e_2w / min(compute, kafka)": r["e2e_2w"]["articles_per_s"] / ceiling,
        "e2e_2w / e2e_1w": r["e2e_2w"]["articles_per_s"] / r["e2e_1w"]["articles_per_s"],
    }
    r["load_avg_end"] = load()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(__import__("json").dumps(r, indent=1, default=str))
    print(table(r))
    print(f"(JSON: {a.out}; load at end {r['load_avg_end']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
