"""Test and benchmark harness: a local broker, isolated settings, worker processes, readers.

Not part of the runtime packages (the wheel leaves it out); ``tests/`` and ``evals/`` import it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from newsflow.kafka import follow_until, producer
from newsflow.settings import Settings
from newsflow.worker import start_worker, stop_worker

ROOT = Path(__file__).resolve().parents[1]
_LAUNCHER = "newsflow_kafka_launcher"

__all__ = [
    "ROOT",
    "first_by_id",
    "isolated_env",
    "launcher",
    "local_broker",
    "read_all",
    "send_all",
    "start_worker",
    "stop_worker",
]


def launcher() -> ModuleType:
    """``deploy/kafka/launcher.py`` (standard library only; it is a script, not a package), loaded once."""
    if _LAUNCHER in sys.modules:
        return sys.modules[_LAUNCHER]
    spec = importlib.util.spec_from_file_location(_LAUNCHER, ROOT / "deploy" / "kafka" / "launcher.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[_LAUNCHER] = mod
    spec.loader.exec_module(mod)
    return mod


@contextlib.contextmanager
def local_broker(prefix: str, keep: bool = False) -> Iterator[tuple[Any, Any, Path]]:
    """(launcher, broker, temp folder): a 4-partition broker in a fresh folder, stopped and the
    folder removed afterwards unless ``keep``."""
    kafka = launcher()
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        broker = kafka.start(port=kafka.free_port(), data=tmp / "kafka", partitions=4)
        yield kafka, broker, tmp
    finally:
        kafka.stop(tmp / "kafka")
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}", file=sys.stderr)


def isolated_env(bootstrap: str, workdir: Path, name: str, tag: str | None = None, **extra: str) -> dict[str, str]:
    """NEWSFLOW_* variables isolating one run on a shared broker: its own topics (prefix), consumer
    group and changelogs (app id), output and state folders. ``extra`` adds or overrides variables."""
    tag = tag or uuid.uuid4().hex[:8]
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP": bootstrap,
        "NEWSFLOW_APP_ID": f"nf-{name}-{tag}",
        "NEWSFLOW_TOPIC_PREFIX": f"{name[0]}{tag}",
        "NEWSFLOW_STORE": "memory://",
        "NEWSFLOW_OUT_DIR": str(workdir / "out"),
        "NEWSFLOW_DATA_DIR": str(workdir / "faust"),
        "NEWSFLOW_PARTITIONS": "4",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.update(extra)
    return env


async def send_all(s: Settings, topic: str, items: list[tuple[int | None, bytes, bytes]]) -> None:
    """Produce (partition or None for the key's, key, value) in order, each acknowledged."""
    prod = producer(s)
    await prod.start()
    try:
        for partition, key, value in items:
            await prod.send_and_wait(topic, key=key, value=value, partition=partition)
    finally:
        await prod.stop()


async def first_by_id(
    s: Settings, topic: str, start_offsets: dict[int, int], ids: set[str], timeout: float
) -> dict[str, dict]:
    """The first JSON message of each of ``ids`` on ``topic`` after ``start_offsets`` (an
    at-least-once pipeline may repeat some later), waiting up to ``timeout`` seconds for all."""
    found: dict[str, dict] = {}

    def _done(v: bytes) -> bool:
        doc = orjson.loads(v)
        found.setdefault(doc["id"], doc)
        return ids <= set(found)

    await follow_until(s, topic, start_offsets, timeout, _done)
    return found


def read_all(out_dir: Path) -> list[bytes]:
    """Every line of every finished file of the file sink, oldest day first."""
    lines: list[bytes] = []
    for f in sorted(Path(out_dir).glob("*/*.jsonl")):
        lines.extend(ln for ln in f.read_bytes().splitlines() if ln.strip())
    return lines
