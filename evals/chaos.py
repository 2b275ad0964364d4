"""Chaos scenarios: kill -9 a worker, fail over between two workers, restart the broker mid-stream.

Each scenario replays generated articles (``make_articles``: templates with random people, places
and organisations; nothing read from disk), breaks something while they flow, lets the pipeline
recover on its own, then counts:

    in        articles replayed
    out       distinct ids on the enriched topic        (must be every id: at least once)
    dead      distinct ids on the dead-letter topic     (0 for these well-formed articles)
    lost      ids neither enriched nor dead-lettered    (must be 0)
    dup       extra copies on the enriched topic        (at-least-once; reported, not an error)
    files     lines in the JSON Lines files; fdup = extra copies there (goal 0), fmiss = ids missing

``tests/test_chaos.py`` runs them (``make chaos`` for the 2,000-article forms). Standalone:

    python -m evals.chaos [--n 2000] [--scenario crash|failover|broker|all]

starts its own broker in a temporary folder. The workers use a 10 s Kafka session timeout
(``BROKER_SESSION_TIMEOUT``, read by Faust from the environment) so a dead worker's partitions move
on within seconds; with Faust's default of 60 s the takeover waits up to a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from newsflow.kafka import end_offsets, ensure_topics, producer, read_topic
from newsflow.settings import Settings
from schemas import RawArticle
from testing import isolated_env, launcher, read_all, start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[1]

FIRST = [
    "Amina",
    "Oleksandr",
    "Maria",
    "John",
    "Wei",
    "Fatima",
    "Carlos",
    "Ingrid",
    "Kofi",
    "Priya",
    "Dmitri",
    "Laura",
    "Ahmed",
    "Sofia",
    "Kenji",
    "Grace",
    "Pierre",
    "Nadia",
    "Tomas",
    "Leila",
]
LAST = [
    "Okafor",
    "Shevchenko",
    "Rossi",
    "Miller",
    "Zhang",
    "Haddad",
    "Mendoza",
    "Larsen",
    "Mensah",
    "Sharma",
    "Volkov",
    "Schmidt",
    "Hassan",
    "Costa",
    "Tanaka",
    "Wright",
    "Dubois",
    "Karimi",
]
PLACES = [
    ("Nairobi", "Kenya"),
    ("Kharkiv", "Ukraine"),
    ("Lima", "Peru"),
    ("Lagos", "Nigeria"),
    ("Dhaka", "Bangladesh"),
    ("Manila", "Philippines"),
    ("Bogota", "Colombia"),
    ("Cairo", "Egypt"),
    ("Hamburg", "Germany"),
    ("Osaka", "Japan"),
    ("Toronto", "Canada"),
    ("Quito", "Ecuador"),
    ("Aleppo", "Syria"),
    ("Khartoum", "Sudan"),
    ("Jakarta", "Indonesia"),
    ("Lyon", "France"),
]
ORGS = [
    "the United Nations",
    "the World Bank",
    "the Red Cross",
    "the European Union",
    "Reuters",
    "the central bank",
    "the health ministry",
    "the African Union",
    "Amnesty International",
]
TOPICS = {
    "conflict": [
        "Fighting broke out near {place} on {day}, {org} said, forcing hundreds of families to flee.",
        "{person}, a local commander, said {n} fighters had been killed in clashes around {place}.",
        "Troops shelled positions outside {place} overnight, according to residents reached by telephone.",
    ],
    "economy": [
        "The central bank of {country} raised its key rate by {n} basis points on {day}.",
        "{person}, chief economist at {org}, said inflation in {country} had slowed for a third month.",
        "Exporters in {place} warned that higher costs would hit {n} thousand jobs this year.",
    ],
    "disaster": [
        "Floods in {place} killed at least {n} people, {org} said on {day}.",
        "Rescue teams searched collapsed buildings in {place} after a strong earthquake struck {country}.",
        "{person}, the regional governor, declared a state of emergency as rivers kept rising.",
    ],
    "politics": [
        "{person} was sworn in as president of {country} on {day} after a disputed vote.",
        "Lawmakers in {place} passed a budget of {n} billion after weeks of talks, {org} reported.",
        "Opposition leader {person} called for protests in {place} over the new election law.",
    ],
    "health": [
        "Health officials in {country} reported {n} new cholera cases around {place}.",
        "{org} sent vaccines to {place} as a measles outbreak spread, {person} said.",
        "Hospitals in {place} ran short of oxygen on {day}, doctors told reporters.",
    ],
    "sport": [
        "{person} scored twice as {place} won the cup final on {day}.",
        "The national team of {country} qualified for the tournament after beating rivals {n}-1.",
        "Fans filled the stadium in {place} to welcome {person} home.",
    ],
}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def make_articles(n: int, seed: int = 0, prefix: str = "chaos") -> list[RawArticle]:
    """``n`` varied, well-formed articles with unique ids ``{prefix}-{seed}-{i:05d}``."""
    rnd = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        topic = rnd.choice(list(TOPICS))
        place, country = rnd.choice(PLACES)

        def fill(s: str, place: str = place, country: str = country) -> str:
            return s.format(
                place=place,
                country=country,
                org=rnd.choice(ORGS),
                day=rnd.choice(DAYS),
                person=f"{rnd.choice(FIRST)} {rnd.choice(LAST)}",
                n=rnd.randint(2, 900),
            )

        sentences = [fill(rnd.choice(TOPICS[topic])) for _ in range(rnd.randint(4, 9))]
        sentences.append(f"Reference {seed}-{i}: {rnd.randint(10**6, 10**7)} records were checked.")
        title = fill(rnd.choice(TOPICS[topic])).split(",")[0].rstrip(".")
        out.append(
            RawArticle(
                id=f"{prefix}-{seed}-{i:05d}",
                source=rnd.choice(["wire", "daily", "gazette", "radio"]),
                url=f"https://news.example/{topic}/{seed}/{i}",
                title=title,
                body="\n\n".join(" ".join(sentences[j : j + 3]) for j in range(0, len(sentences), 3)),
                published_at=start + timedelta(minutes=7 * i + rnd.randint(0, 6)),
            )
        )
    return out


@dataclass
class Result:
    scenario: str
    n_in: int
    out: int = 0
    out_msgs: int = 0
    dead: int = 0
    lost: int = 0
    dup: int = 0
    files: int = 0
    file_dups: int = 0
    file_missing: int = 0
    seconds: float = 0.0
    events: list[str] = field(default_factory=list)

    HEADER = (
        f"{'scenario':24s} {'in':>6s} {'out':>6s} {'dead':>5s} {'lost':>5s} {'dup':>5s} "
        f"{'files':>6s} {'fdup':>5s} {'fmiss':>5s} {'secs':>6s}"
    )

    def row(self) -> str:
        return (
            f"{self.scenario:24s} {self.n_in:6d} {self.out:6d} {self.dead:5d} {self.lost:5d} "
            f"{self.dup:5d} {self.files:6d} {self.file_dups:5d} {self.file_missing:5d} "
            f"{self.seconds:6.1f}"
        )


def scenario_env(bootstrap: str, workdir: Path) -> dict[str, str]:
    """NEWSFLOW_* settings isolating one scenario: own topics, consumer group, output folder."""
    return isolated_env(
        bootstrap,
        workdir,
        "chaos",
        NEWSFLOW_SINK_FLUSH_SECONDS="0.5",
        NEWSFLOW_SINK_BATCH="100",
        BROKER_SESSION_TIMEOUT="10",
        BROKER_HEARTBEAT_INTERVAL="1",
    )


class Workers:
    """Worker processes of one scenario, each with its own web port, data folder and log."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir, self.procs, self.n = env, workdir, [], 0

    def start(self) -> subprocess.Popen[bytes]:
        self.n += 1
        env = {
            **self.env,
            "NEWSFLOW_WEB_PORT": str(launcher().free_port()),
            "NEWSFLOW_DATA_DIR": str(self.workdir / f"faust-{self.n}"),
        }
        proc = start_worker(env, log=self.workdir / f"worker-{self.n}.log")
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in self.procs:
            stop_worker(p)


async def produce(s: Settings, articles: list[RawArticle], rate: float | None = None) -> None:
    await ensure_topics(s)
    prod = producer(s)
    await prod.start()
    started = time.monotonic()
    try:
        for i, a in enumerate(articles):
            if rate:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await prod.send(s.topic("raw"), key=a.id.encode(), value=a.to_bytes())
        await prod.flush()
    finally:
        await prod.stop()


async def out_count(s: Settings) -> int:
    try:
        return sum((await end_offsets(s, s.topic("enriched"))).values())
    except Exception:  # noqa: BLE001 - the broker may be down on purpose
        return 0


def file_ids(out_dir: Path) -> list[str]:
    if not out_dir.exists():
        return []
    return [orjson.loads(line)["id"] for line in read_all(out_dir)]


async def wait_for(pred: Callable[[], Any], timeout: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():
            return True
        await asyncio.sleep(every)
    return False


async def census(s: Settings, ids: list[str], res: Result) -> Result:
    wanted = set(ids)
    topic = Counter()
    async for _k, v in read_topic(s, s.topic("enriched")):
        topic[orjson.loads(v)["id"]] += 1
    dead = set()
    async for k, _v in read_topic(s, s.topic("deadletter")):
        dead.add((k or b"").decode("utf-8", "replace"))
    files = Counter(file_ids(Path(s.out_dir)))
    res.out = len(wanted & set(topic))
    res.out_msgs = sum(topic[i] for i in wanted)
    res.dup = res.out_msgs - res.out
    res.dead = len(wanted & dead)
    res.lost = len(wanted - set(topic) - dead)
    res.files = sum(files.values())
    res.file_dups = sum(c - 1 for c in files.values() if c > 1)
    res.file_missing = len(wanted - set(files) - dead)
    return res


async def _until_done(s: Settings, ids: list[str], timeout: float, stall: float = 150.0) -> bool:
    """Wait until every id is in the files; give up after ``timeout`` or ``stall`` s without progress."""
    wanted = set(ids)
    progress = {"n": -1, "at": time.monotonic()}

    async def done() -> bool:
        have = wanted & set(file_ids(Path(s.out_dir)))
        if len(have) != progress["n"]:
            progress.update(n=len(have), at=time.monotonic())
        elif time.monotonic() - progress["at"] > stall:
            raise TimeoutError(f"no progress for {stall}s at {len(have)} of {len(wanted)}")
        return len(have) == len(wanted) and await out_count(s) >= len(ids)

    try:
        return await wait_for(done, timeout, every=2.0)
    except TimeoutError:
        return False


async def _kill_when(
    s: Settings, workers: Workers, victim: subprocess.Popen[bytes], at: int, res: Result, timeout: float = 300.0
) -> None:
    async def reached() -> bool:
        return await out_count(s) >= at

    await wait_for(reached, timeout, every=0.3)
    got = await out_count(s)
    stop_worker(victim, kill=True)
    res.events.append(f"kill -9 worker pid {victim.pid} at {got} enriched messages")


async def crash(env: dict[str, str], workdir: Path, n: int = 2000, kills: int = 1, timeout: float = 900.0) -> Result:
    """One worker; kill -9 it ``kills`` times mid-stream, restarting it each time."""
    s, res, t0 = Settings.from_env(env), Result(f"crash x{kills}", n), time.monotonic()
    arts = make_articles(n, seed=1)
    workers = Workers(env, workdir)
    try:
        w = workers.start()
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 20)))
        for k in range(kills):
            await _kill_when(s, workers, w, int(n * (k + 1) / (kills + 2)), res)
            w = workers.start()
        await feeding
        res.events.append(f"complete={await _until_done(s, [a.id for a in arts], timeout)}")
        res.events.append(f"last worker alive={w.poll() is None}")
        res.seconds = time.monotonic() - t0
        return await census(s, [a.id for a in arts], res)
    finally:
        workers.stop_all()


async def failover(env: dict[str, str], workdir: Path, n: int = 2000, timeout: float = 900.0) -> Result:
    """Two workers share the partitions; one dies (kill -9) and the other takes over alone."""
    s, res, t0 = Settings.from_env(env), Result("failover 2->1", n), time.monotonic()
    arts = make_articles(n, seed=2)
    workers = Workers(env, workdir)
    try:
        a = workers.start()
        b = workers.start()
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 20)))
        await _kill_when(s, workers, a, n // 3, res)
        await feeding
        res.events.append(f"complete={await _until_done(s, [x.id for x in arts], timeout)}")
        res.events.append(f"survivor alive={b.poll() is None}")
        res.seconds = time.monotonic() - t0
        return await census(s, [x.id for x in arts], res)
    finally:
        workers.stop_all()


async def broker_restart(workdir: Path, n: int = 2000, down_seconds: float = 5.0, timeout: float = 900.0) -> Result:
    """A dedicated broker is stopped mid-stream and started again on the same data; nobody touches
    the worker. Half the articles go in before the outage, half after."""
    kafka = launcher()
    port, data = kafka.free_port(), workdir / "kafka"
    broker = kafka.start(port=port, data=data, partitions=4)
    env = scenario_env(broker.bootstrap, workdir)
    s, res, t0 = Settings.from_env(env), Result("broker restart", n), time.monotonic()
    arts = make_articles(n, seed=3)
    workers = Workers(env, workdir)
    try:
        w = workers.start()
        await produce(s, arts[: n // 2])

        async def reached() -> bool:
            return await out_count(s) >= n // 4

        await wait_for(reached, 300, every=0.3)
        got = await out_count(s)
        kafka.stop(data)
        res.events.append(f"broker stopped at {got} enriched messages for {down_seconds}s")
        await asyncio.sleep(down_seconds)
        kafka.start(port=port, data=data, partitions=4, keep_data=True)
        res.events.append(f"broker restarted; worker alive={w.poll() is None}")
        await produce(s, arts[n // 2 :])
        res.events.append(f"complete={await _until_done(s, [a.id for a in arts], timeout)}")
        res.events.append(f"worker alive={w.poll() is None} (never restarted)")
        res.seconds = time.monotonic() - t0
        return await census(s, [a.id for a in arts], res)
    finally:
        workers.stop_all()
        kafka.stop(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--scenario", choices=["crash", "failover", "broker", "all"], default="all")
    a = ap.parse_args(argv)
    kafka = launcher()
    results = []
    with tempfile.TemporaryDirectory(prefix="newsflow-chaos-") as tmp:
        root = Path(tmp)
        data = root / "shared-kafka"
        broker = kafka.start(port=kafka.free_port(), data=data, partitions=4)
        try:
            if a.scenario in ("crash", "all"):
                (root / "crash").mkdir()
                results.append(asyncio.run(crash(scenario_env(broker.bootstrap, root / "crash"), root / "crash", a.n)))
            if a.scenario in ("failover", "all"):
                (root / "failover").mkdir()
                results.append(
                    asyncio.run(failover(scenario_env(broker.bootstrap, root / "failover"), root / "failover", a.n))
                )
        finally:
            kafka.stop(data)
        if a.scenario in ("broker", "all"):
            (root / "broker").mkdir()
            results.append(asyncio.run(broker_restart(root / "broker", a.n)))
    print(Result.HEADER)
    for r in results:
        print(r.row())
        for e in r.events:
            print(f"    {e}")
    return 0 if all(r.lost == 0 and r.file_dups == 0 and r.file_missing == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
