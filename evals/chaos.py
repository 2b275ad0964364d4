"""Chaos scenarios: workers killed, failed over and restarted in turn, the broker stopped and killed,
the file sink's disk full or read-only, a stage that stalls, a message that kills its worker.

Each scenario replays generated articles (``make_articles``: templates with random people, places
and organisations; nothing read from disk), breaks something while they flow, lets the pipeline
recover on its own, then counts:

    in        articles replayed
    out       distinct ids on the enriched topic        (must be every id: at least once)
    dead      distinct ids on the dead-letter topic     (0, except the poison message)
    lost      ids neither enriched nor dead-lettered    (must be 0)
    dup       extra copies on the enriched topic        (at-least-once; reported, not an error)
    files     lines in the JSON Lines files; fmiss = ids missing there (must be 0), fdup = extra
              copies there (must be 0)

Scenarios (``SCENARIOS``): ``crash`` (kill -9 one worker twice, restart), ``failover`` (two
workers, one killed), ``broker`` (broker stopped 5 s), ``broker-kill`` (broker SIGKILLed, restarted
on the same data), ``rolling`` (three workers restarted one after another during the replay),
``disk-full`` and ``read-only`` (the sink's folder is a small tmpfs that is filled up or remounted
read-only for a while; needs root for ``mount``), ``stall`` (the entity step blocks 12 s, longer
than the 10 s session timeout, on a few articles), ``poison`` (an article that SIGKILLs its worker
every time; a supervisor restarts the worker like a restart policy would).

    python -m evals.chaos [--n 2000] [--scenario NAME|all] [--soak 5] [--keep DIR]

starts a fresh broker in a temporary folder for every run of every scenario and prints one table.
``make chaos-soak`` is ``--soak 5 --scenario all``. The workers use a 10 s Kafka session timeout
(``BROKER_SESSION_TIMEOUT``, read by Faust from the environment) so a dead worker's partitions move
on within seconds; with Faust's default of 60 s the takeover waits up to a minute. Faults inside a
worker come from ``evals.chaos_worker`` (the real worker with a wrapped entity step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from newsflow.kafka import end_offsets, ensure_topics, producer, read_topic
from newsflow.settings import Settings
from schemas import RawArticle
from testing import isolated_env, launcher, read_all, stop_worker

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
    run: int = 1
    out: int = 0
    out_msgs: int = 0
    dead: int = 0
    lost: int = 0
    dup: int = 0
    files: int = 0
    file_dups: int = 0
    file_missing: int = 0
    seconds: float = 0.0
    expected_dead: int = 0
    skipped: str | None = None
    checks: dict[str, bool] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    HEADER = (
        f"{'scenario':15s} {'run':>3s} {'in':>5s} {'out':>5s} {'dead':>4s} {'lost':>4s} {'dup':>4s} "
        f"{'files':>5s} {'fmiss':>5s} {'fdup':>4s} {'secs':>6s}  verdict"
    )

    @property
    def ok(self) -> bool:
        return (
            self.skipped is None
            and self.lost == 0
            and self.file_missing == 0
            and self.file_dups == 0
            and self.dead == self.expected_dead
            and self.out + self.dead == self.n_in
            and all(self.checks.values())
        )

    def row(self) -> str:
        if self.skipped is not None:
            return f"{self.scenario:15s} {self.run:3d} skipped: {self.skipped}"
        failed = [k for k, v in self.checks.items() if not v]
        verdict = "ok" if self.ok else "FAIL" + (f" ({', '.join(failed)})" if failed else "")
        return (
            f"{self.scenario:15s} {self.run:3d} {self.n_in:5d} {self.out:5d} {self.dead:4d} {self.lost:4d} "
            f"{self.dup:4d} {self.files:5d} {self.file_missing:5d} {self.file_dups:4d} {self.seconds:6.1f}  {verdict}"
        )


class Broker:
    """A dedicated local broker for one scenario run (own port and data folder)."""

    def __init__(self, workdir: Path) -> None:
        self.kafka = launcher()
        self.port, self.data = self.kafka.free_port(), workdir / "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, keep: bool = False) -> str:
        self.kafka.start(port=self.port, data=self.data, partitions=4, keep_data=keep)
        return self.bootstrap

    def stop(self, kill: bool = False) -> None:
        self.kafka.stop(self.data, kill=kill)


def scenario_env(bootstrap: str, workdir: Path, entity_mode: str | None = None) -> dict[str, str]:
    """NEWSFLOW_* settings isolating one scenario: own topics, consumer group, output folder."""
    extra = {"NEWSFLOW_ENTITY_MODE": entity_mode} if entity_mode else {}
    return isolated_env(
        bootstrap,
        workdir,
        "chaos",
        NEWSFLOW_SINK_FLUSH_SECONDS="0.5",
        NEWSFLOW_SINK_BATCH="100",
        BROKER_SESSION_TIMEOUT="10",
        BROKER_HEARTBEAT_INTERVAL="1",
        **extra,
    )


@dataclass
class _Proc:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path


class Workers:
    """Worker processes of one scenario, each with its own web port, data folder and log.
    ``faults`` are ``evals.chaos_worker`` arguments (the real worker with a faulty entity step)."""

    def __init__(self, env: dict[str, str], workdir: Path, faults: list[str] | None = None) -> None:
        self.env, self.workdir, self.faults = env, workdir, faults
        self.procs: list[_Proc] = []
        self.n = 0

    def start(self, data_dir: Path | None = None) -> subprocess.Popen[bytes]:
        self.n += 1
        port = launcher().free_port()
        data_dir = data_dir or self.workdir / f"faust-{self.n}"
        log = self.workdir / f"worker-{self.n}.log"
        env = {
            **os.environ,
            **self.env,
            "NEWSFLOW_WEB_PORT": str(port),
            "NEWSFLOW_DATA_DIR": str(data_dir),
            "PYTHONHASHSEED": "0",
        }
        cmd = [sys.executable, "-m", "evals.chaos_worker", *self.faults] if self.faults else None
        cmd = cmd or [sys.executable, "-m", "newsflow.cli", "worker"]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(_Proc(proc, port, data_dir, log))
        return proc

    def info(self, proc: subprocess.Popen[bytes]) -> _Proc:
        return next(p for p in self.procs if p.proc is proc)

    def restart(self, proc: subprocess.Popen[bytes], kill: bool = False) -> subprocess.Popen[bytes]:
        """Stop ``proc`` (SIGTERM, or SIGKILL) and start its replacement on the same data folder,
        as a restart policy would."""
        stop_worker(proc, kill=kill)
        return self.start(self.info(proc).data_dir)

    def logs(self) -> str:
        return "".join(p.log.read_text(errors="replace") for p in self.procs if p.log.exists())

    def stop_all(self) -> None:
        for p in self.procs:
            stop_worker(p.proc)


# Lines a worker logs when it was thrown out of its group or its group rebalanced around it (the
# first join revokes the empty set: "Revoking previously assigned partitions set()", not churn).
CHURN = re.compile(
    r"Heartbeat session expired|Heartbeat failed|rejoin|Revoking previously assigned partitions (?!set\(\))"
)


def churn(text: str) -> int:
    return len(CHURN.findall(text))


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
    try:
        return [orjson.loads(line)["id"] for line in read_all(out_dir)]
    except FileNotFoundError:  # a file renamed over while listing
        return file_ids(out_dir)


async def wait_for(pred: Callable[[], Awaitable[Any]], timeout: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():
            return True
        await asyncio.sleep(every)
    return False


async def census(s: Settings, ids: list[str], res: Result) -> Result:
    wanted = set(ids)
    topic: Counter[str] = Counter()
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
    missing = sorted(wanted - set(files) - dead)
    if missing:
        res.events.append(f"missing from files: {missing[:10]}")
    return res


async def _until_done(
    s: Settings, ids: list[str], timeout: float, stall: float = 150.0, dead_ok: set[str] | None = None
) -> bool:
    """Wait until every id is in the files; give up after ``timeout`` or ``stall`` s without progress."""
    wanted = set(ids) - (dead_ok or set())
    progress = {"n": -1, "at": time.monotonic()}

    async def done() -> bool:
        have = wanted & set(file_ids(Path(s.out_dir)))
        if len(have) != progress["n"]:
            progress.update(n=len(have), at=time.monotonic())
        elif time.monotonic() - progress["at"] > stall:
            raise TimeoutError(f"no progress for {stall}s at {len(have)} of {len(wanted)}")
        return len(have) == len(wanted) and await out_count(s) >= len(wanted)

    try:
        return await wait_for(done, timeout, every=2.0)
    except TimeoutError:
        return False


async def _finish(s: Settings, ids: list[str], res: Result, t0: float, timeout: float, **kw: Any) -> Result:
    complete = await _until_done(s, ids, timeout, **kw)
    res.events.append(f"complete={complete}")
    res.seconds = time.monotonic() - t0
    return await census(s, ids, res)


async def _when_out(s: Settings, at: int, timeout: float = 300.0) -> int:
    async def reached() -> bool:
        return await out_count(s) >= at

    await wait_for(reached, timeout, every=0.3)
    return await out_count(s)


async def _kill_when(
    s: Settings, workers: Workers, victim: subprocess.Popen[bytes], at: int, res: Result, timeout: float = 300.0
) -> None:
    got = await _when_out(s, at, timeout)
    stop_worker(victim, kill=True)
    res.events.append(f"kill -9 worker pid {victim.pid} at {got} enriched messages")


def _alive(res: Result, what: str, proc: subprocess.Popen[bytes]) -> None:
    res.checks[what] = proc.poll() is None
    res.events.append(f"{what}={proc.poll() is None}")


async def crash(env: dict[str, str], workdir: Path, n: int = 2000, kills: int = 2, timeout: float = 900.0) -> Result:
    """One worker; kill -9 it ``kills`` times mid-stream, restarting it each time."""
    s, res, t0 = Settings.from_env(env), Result("crash", n), time.monotonic()
    arts = make_articles(n, seed=1)
    workers = Workers(env, workdir)
    try:
        w = workers.start()
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 20)))
        for k in range(kills):
            await _kill_when(s, workers, w, int(n * (k + 1) / (kills + 2)), res)
            w = workers.start()
        await feeding
        await _finish(s, [a.id for a in arts], res, t0, timeout)
        _alive(res, "last worker alive", w)
        return res
    finally:
        workers.stop_all()


async def failover(env: dict[str, str], workdir: Path, n: int = 2000, timeout: float = 900.0) -> Result:
    """Two workers share the partitions; one dies (kill -9) and the other takes over alone."""
    s, res, t0 = Settings.from_env(env), Result("failover", n), time.monotonic()
    arts = make_articles(n, seed=2)
    workers = Workers(env, workdir)
    try:
        a = workers.start()
        b = workers.start()
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 20)))
        await _kill_when(s, workers, a, n // 3, res)
        await feeding
        await _finish(s, [x.id for x in arts], res, t0, timeout)
        _alive(res, "survivor alive", b)
        return res
    finally:
        workers.stop_all()


async def broker_outage(
    workdir: Path,
    n: int = 2000,
    kill: bool = False,
    down_seconds: float = 5.0,
    timeout: float = 900.0,
    entity_mode: str | None = None,
) -> Result:
    """A dedicated broker is stopped (SIGTERM, or SIGKILL with ``kill``) mid-stream and started
    again on the same data; nobody touches the worker. Half the articles go in before the outage,
    half after."""
    broker = Broker(workdir)
    env = scenario_env(broker.start(), workdir, entity_mode)
    s, res, t0 = Settings.from_env(env), Result("broker-kill" if kill else "broker", n), time.monotonic()
    arts = make_articles(n, seed=4 if kill else 3)
    workers = Workers(env, workdir)
    try:
        w = workers.start()
        await produce(s, arts[: n // 2])
        got = await _when_out(s, n // 4)
        broker.stop(kill=kill)
        res.events.append(f"broker {'killed (SIGKILL)' if kill else 'stopped'} at {got} enriched messages")
        await asyncio.sleep(down_seconds)
        broker.start(keep=True)
        res.events.append(f"broker restarted after {down_seconds}s; worker alive={w.poll() is None}")
        await produce(s, arts[n // 2 :])
        await _finish(s, [a.id for a in arts], res, t0, timeout)
        _alive(res, "worker alive (never restarted)", w)
        return res
    finally:
        workers.stop_all()
        broker.stop()


async def broker_restart(workdir: Path, n: int = 2000, **kw: Any) -> Result:
    return await broker_outage(workdir, n, kill=False, **kw)


async def broker_kill(workdir: Path, n: int = 2000, **kw: Any) -> Result:
    return await broker_outage(workdir, n, kill=True, **kw)


async def rolling(env: dict[str, str], workdir: Path, n: int = 5000, timeout: float = 1200.0) -> Result:
    """Three workers; during the replay each is restarted in turn (SIGTERM, then a new process on
    the same data folder), the next one only after the group has moved on by a tenth of the input."""
    s, res, t0 = Settings.from_env(env), Result("rolling", n), time.monotonic()
    arts = make_articles(n, seed=5)
    workers = Workers(env, workdir)
    try:
        procs = [workers.start() for _ in range(3)]
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 60)))
        for i in range(3):
            got = await _when_out(s, int(n * (i + 1) / 5))
            procs[i] = workers.restart(procs[i])
            res.events.append(f"worker {i + 1} restarted at {got} enriched messages")
        await feeding
        await _finish(s, [a.id for a in arts], res, t0, timeout)
        for i, p in enumerate(procs):
            _alive(res, f"worker {i + 1} alive", p)
        return res
    finally:
        workers.stop_all()


def _http(port: int, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)


def _sink_failures(metrics_text: str) -> float:
    """``newsflow_errors_total{stage="sink",...}`` summed (file-system errors of the sink)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("newsflow_errors_total{") and 'stage="sink"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _fill(folder: Path) -> Path:
    """Write zeros into ``folder/filler`` until the file system says ENOSPC."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)  # the last partial megabyte
    return filler


def _mount(*args: str) -> str | None:
    """Run ``mount``; the error text, or None when it worked."""
    if shutil.which("mount") is None:
        return "no mount command"
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip() or f"mount exited {done.returncode}")


async def disk_fault(
    env: dict[str, str],
    workdir: Path,
    n: int = 2000,
    read_only: bool = False,
    hold: float = 20.0,
    timeout: float = 900.0,
) -> Result:
    """The sink's folder is a 64 MB tmpfs. A quarter of the way in it is filled up (ENOSPC) or
    remounted read-only (EROFS) for ``hold`` seconds, then freed. Checks: the worker says so
    (``/health`` not ok, the sink's error counter goes up), no file line appears for what was not
    written, and afterwards it catches up by itself."""
    s, res, t0 = Settings.from_env(env), Result("read-only" if read_only else "disk-full", n), time.monotonic()
    out = Path(s.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    why = _mount("-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(out))
    if why is not None:
        res.skipped = f"cannot mount a tmpfs ({why})"
        return res
    arts = make_articles(n, seed=7 if read_only else 6)
    workers = Workers(env, workdir)
    filler: Path | None = None
    try:
        w = workers.start()
        port = workers.info(w).port
        feeding = asyncio.create_task(produce(s, arts, rate=max(50.0, n / 30)))

        async def quarter() -> bool:
            return len(file_ids(out)) >= n // 4

        await wait_for(quarter, 300, every=0.5)
        if read_only:
            problem = _mount("-o", "remount,ro", str(out))
            res.events.append(f"remounted read-only at {len(file_ids(out))} lines ({problem or 'ok'})")
        else:
            filler = _fill(out)
            res.events.append(f"disk filled at {len(file_ids(out))} lines ({filler.stat().st_size >> 20} MB filler)")
        before = _sink_failures(_http(port, "/metrics")[1])
        await asyncio.sleep(hold)
        status, body = _http(port, "/health")
        failures = _sink_failures(_http(port, "/metrics")[1]) - before
        res.checks["health not ok during fault"] = status != 200
        res.checks["sink error metric rose"] = failures > 0
        res.checks["error logged"] = "sink: writing partition" in workers.logs()
        res.events.append(f"during fault: /health {status} {body[:120]!r}; sink errors +{failures:.0f}")
        if read_only:
            res.events.append(f"remounted read-write ({_mount('-o', 'remount,rw', str(out)) or 'ok'})")
        elif filler is not None:
            filler.unlink()
            res.events.append("filler removed")
        await feeding
        await _finish(s, [a.id for a in arts], res, t0, timeout)
        status, body = _http(port, "/health")
        res.checks["health ok after"] = status == 200
        res.events.append(f"after: /health {status}")
        _alive(res, "worker alive", w)
        return res
    finally:
        workers.stop_all()
        if filler is not None:
            filler.unlink(missing_ok=True)
        kept = workdir / "out-kept"
        with contextlib.suppress(OSError):
            shutil.copytree(out, kept, ignore=shutil.ignore_patterns("filler"))
        subprocess.run(["umount", "-l", str(out)], capture_output=True)


async def stall(
    env: dict[str, str], workdir: Path, n: int = 300, stalls: int = 3, seconds: float = 12.0, timeout: float = 900.0
) -> Result:
    """The entity step blocks for ``seconds`` (longer than the 10 s session timeout) on ``stalls``
    articles spread over the replay. Checks: nobody is thrown out of the group (no heartbeat
    expiry, no rejoin in the worker logs) and everything comes out."""
    s, res, t0 = Settings.from_env(env), Result("stall", n), time.monotonic()
    arts = make_articles(n, seed=8)
    for k in range(stalls):
        i = (k + 1) * n // (stalls + 1)
        arts[i] = arts[i].model_copy(update={"id": arts[i].id + "-stall"})
    workers = Workers(env, workdir, ["--stall-marker=-stall", f"--stall-seconds={seconds}"])
    try:
        w = workers.start()
        await asyncio.sleep(0)
        feeding = asyncio.create_task(produce(s, arts, rate=max(20.0, n / 30)))
        await feeding
        await _finish(s, [a.id for a in arts], res, t0, timeout)
        seen = churn(workers.logs())
        res.checks["no group churn"] = seen == 0
        res.events.append(f"{stalls} stalls of {seconds}s; churn lines in the worker log: {seen}")
        _alive(res, "worker alive", w)
        return res
    finally:
        workers.stop_all()


async def poison(env: dict[str, str], workdir: Path, n: int = 300, limit: int = 3, timeout: float = 900.0) -> Result:
    """One article SIGKILLs its worker every time the entity step sees it. A supervisor restarts
    the worker on the same data folder (as a restart policy would), at most ``limit + 3`` times.
    Checks: after ``limit`` crashes the article is dead-lettered with the reason, the worker stays
    up and every other article comes out."""
    env = {**env, "NEWSFLOW_POISON_CRASH_LIMIT": str(limit)}
    s, res, t0 = Settings.from_env(env), Result("poison", n, expected_dead=1), time.monotonic()
    arts = make_articles(n, seed=9)
    i = n // 2
    arts[i] = arts[i].model_copy(update={"id": arts[i].id + "-poison"})
    bad = arts[i].id
    workers = Workers(env, workdir, ["--poison-marker=-poison"])
    crashes = 0
    try:
        current = [workers.start()]
        stop = asyncio.Event()

        async def supervise() -> None:
            nonlocal crashes
            while not stop.is_set():
                if current[0].poll() is not None and crashes < limit + 3:
                    crashes += 1
                    current[0] = workers.start(workers.info(current[0]).data_dir)
                await asyncio.sleep(0.5)

        guard = asyncio.create_task(supervise())
        await produce(s, arts, rate=max(20.0, n / 30))
        await _finish(s, [a.id for a in arts], res, t0, timeout, dead_ok={bad})
        stop.set()
        await guard
        reason = ""
        async for k, v in read_topic(s, s.topic("deadletter")):
            if k == bad.encode():
                reason = orjson.loads(v).get("error", "")
        res.checks["dead-lettered with the reason"] = "crash" in reason.lower()
        res.checks[f"crashes == {limit}"] = crashes == limit
        res.events.append(f"crashes={crashes}; dead letter: {reason[:160]!r}")
        _alive(res, "worker alive", current[0])
        return res
    finally:
        workers.stop_all()


# name -> (default article count, needs its own broker handling, runner)
Runner = Callable[[Path, int, str | None], Awaitable[Result]]


@contextlib.asynccontextmanager
async def _fresh(workdir: Path, entity_mode: str | None) -> AsyncIterator[dict[str, str]]:
    broker = Broker(workdir)
    try:
        yield scenario_env(broker.start(), workdir, entity_mode)
    finally:
        broker.stop()


def _on_fresh_broker(fn: Callable[..., Awaitable[Result]], **kw: Any) -> Runner:
    async def run(workdir: Path, n: int, entity_mode: str | None) -> Result:
        async with _fresh(workdir, entity_mode) as env:
            return await fn(env, workdir, n, **kw)

    return run


def _own_broker(fn: Callable[..., Awaitable[Result]]) -> Runner:
    async def run(workdir: Path, n: int, entity_mode: str | None) -> Result:
        return await fn(workdir, n, entity_mode=entity_mode)

    return run


SCENARIOS: dict[str, tuple[int, Runner]] = {
    "crash": (2000, _on_fresh_broker(crash, kills=2)),
    "failover": (2000, _on_fresh_broker(failover)),
    "broker": (2000, _own_broker(broker_restart)),
    "broker-kill": (2000, _own_broker(broker_kill)),
    "rolling": (5000, _on_fresh_broker(rolling)),
    "disk-full": (2000, _on_fresh_broker(disk_fault, read_only=False)),
    "read-only": (2000, _on_fresh_broker(disk_fault, read_only=True)),
    "stall": (300, _on_fresh_broker(stall)),
    "poison": (300, _on_fresh_broker(poison)),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, help="articles per scenario (default: each scenario's own, see SCENARIOS)")
    ap.add_argument("--scenario", action="append", choices=[*SCENARIOS, "all"], help="repeatable; default all")
    ap.add_argument("--soak", type=int, default=1, help="runs of every scenario, each on a fresh broker")
    ap.add_argument(
        "--entity-mode", choices=["fast", "balanced", "accurate"], help="NEWSFLOW_ENTITY_MODE of the workers"
    )
    ap.add_argument("--keep", type=Path, help="keep every run's folder (logs, files, broker data) here")
    a = ap.parse_args(argv)
    names = list(SCENARIOS) if not a.scenario or "all" in a.scenario else a.scenario
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="newsflow-chaos-") as tmp:
        root = a.keep or Path(tmp)
        print(f"{Result.HEADER}", flush=True)
        for run in range(1, a.soak + 1):
            for name in names:
                default_n, runner = SCENARIOS[name]
                workdir = root / f"{name}-{run}"
                workdir.mkdir(parents=True, exist_ok=True)
                res = asyncio.run(runner(workdir, a.n or default_n, a.entity_mode))
                res.scenario, res.run = name, run
                results.append(res)
                print(res.row(), flush=True)
                for e in res.events:
                    print(f"    {e}", flush=True)
    print(f"\n{Result.HEADER}")
    for r in results:
        print(r.row())
    return 0 if all(r.ok or r.skipped for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
