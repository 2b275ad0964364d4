"""``newsflow replay --checkpoint``: an interrupted replay resumes where it stopped; ``newsflow
reprocess`` makes the workers read the raw topic again from the start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from newsflow.kafka import collect, end_offsets, read_topic
from newsflow.replay import Checkpoint, CheckpointMismatch, replay, reprocess_offsets
from newsflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _backlog(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        orjson.dumps(
            {
                "id": f"art-{i:03d}",
                "title": f"Article {i}",
                "body": f"Article {i}. Officials in Ankara met counterparts on day {i}.",
            }
        )
        for i in range(n)
    ]
    (folder / "backlog.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return folder


async def _raw_ids(s: Settings) -> list[str]:
    return [k.decode() async for k, _v in read_topic(s, s.topic("raw")) if k is not None]


# --- unit ---------------------------------------------------------------------------------------


def test_checkpoint_roundtrip_and_mismatch(tmp_path: Path) -> None:
    f = tmp_path / "state" / "replay.ckpt"
    c = Checkpoint(f, [Path("/backlog")])
    assert (c.acked, c.done) == (0, False)
    c.acked = 7
    c.save()
    again = Checkpoint(f, [Path("/backlog")])
    assert (again.acked, again.done) == (7, False)
    assert not list(f.parent.glob(".*.tmp")), "saved atomically, no temporary left behind"
    with pytest.raises(CheckpointMismatch):
        Checkpoint(f, [Path("/other")])


# --- real broker --------------------------------------------------------------------------------


@pytest.mark.kafka
def test_interrupted_replay_resumes_without_gaps_or_repeats(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    s = Settings.from_env(pipeline_env)
    backlog = [_backlog(tmp_path / "backlog", 12)]
    ckpt = tmp_path / "replay.ckpt"

    async def scenario() -> tuple[list[int], list[str]]:
        first = await replay(s, backlog, progress=False, checkpoint=ckpt, stop_after=5)
        state = Checkpoint(ckpt, backlog)
        assert (state.acked, state.done) == (5, False)
        second = await replay(s, backlog, progress=False, checkpoint=ckpt)
        assert Checkpoint(ckpt, backlog).done
        third = await replay(s, backlog, progress=False, checkpoint=ckpt)
        return [first.produced, second.produced, second.skipped, third.produced], await _raw_ids(s)

    counts, ids = asyncio.run(scenario())
    assert counts == [5, 7, 5, 0]
    assert sorted(ids) == [f"art-{i:03d}" for i in range(12)]


@pytest.mark.kafka
def test_sigterm_during_replay_writes_checkpoint(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    """What ``docker stop`` does to the replay service: SIGTERM, then a rerun finishes the job."""
    s = Settings.from_env(pipeline_env)
    backlog = _backlog(tmp_path / "backlog", 40)
    ckpt = tmp_path / "replay.ckpt"
    env = {**os.environ, **pipeline_env}
    cmd = [
        sys.executable,
        "-m",
        "newsflow.cli",
        "replay",
        str(backlog),
        "--quiet",
        "--rate",
        "10",
        "--checkpoint",
        str(ckpt),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (ckpt.exists() and Checkpoint(ckpt, [backlog]).acked >= 5):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    state = Checkpoint(ckpt, [backlog])
    assert 5 <= state.acked < 40 and not state.done
    rerun = subprocess.run(
        cmd[:-4] + ["--checkpoint", str(ckpt)], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert f"skipped {state.acked} already acknowledged" in rerun.stdout
    ids = asyncio.run(_raw_ids(s))
    assert sorted(set(ids)) == [f"art-{i:03d}" for i in range(40)]
    # At most the few sent-but-unacknowledged at the signal are repeated.
    assert len(ids) - 40 <= 2


@pytest.mark.kafka
def test_reprocess_commits_raw_from_start_and_skips_intermediate(pipeline_env: dict[str, str]) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    s = Settings.from_env(pipeline_env)

    async def scenario() -> tuple[dict, dict]:
        await replay(s, [ROOT / "seeds"], progress=False)
        from newsflow.kafka import producer

        prod = producer(s)
        await prod.start()
        await prod.send_and_wait(s.topic("cleaned"), key=b"stale", value=b"{}")
        await prod.stop()
        done = await reprocess_offsets(s, group="nf-reprocess-check")
        c = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id="nf-reprocess-check")
        await c.start()
        try:
            committed = {}
            for topic, parts in done.items():
                for p in parts:
                    committed[(topic, p)] = await c.committed(TopicPartition(topic, p))
        finally:
            await c.stop()
        return done, committed

    done, committed = asyncio.run(scenario())
    assert set(done) == {s.topic(t) for t in ("raw", "cleaned", "tagged", "classified", "enriched")}
    assert all(off == 0 for off in done[s.topic("raw")].values())
    assert sum(done[s.topic("cleaned")].values()) == 1, "the stale intermediate message is skipped"
    assert committed == {(t, p): off for t, parts in done.items() for p, off in parts.items()}


@pytest.mark.kafka
@pytest.mark.slow
def test_reprocess_runs_the_backlog_again_through_a_worker(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    from testing import start_worker, stop_worker

    s = Settings.from_env(pipeline_env)
    enriched = s.topic("enriched")

    def run_worker_until(expected: int) -> list[bytes]:
        log = tmp_path / f"worker-{expected}.log"
        worker = start_worker(pipeline_env, log=log)
        try:
            out = asyncio.run(collect(s, enriched, {}, expected, 150))
        finally:
            stop_worker(worker)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        assert len(out) == expected, f"{len(out)} of {expected} enriched records; worker log tail:\n{tail}"
        return out

    asyncio.run(replay(s, [ROOT / "seeds"], progress=False))
    run_worker_until(1)
    asyncio.run(reprocess_offsets(s))
    out = run_worker_until(2)
    docs = [orjson.loads(v) for v in out]
    assert len(docs) == 2 and docs[0]["id"] == docs[1]["id"]
    assert sum(asyncio.run(end_offsets(s, s.topic("raw"))).values()) == 1, "no second replay was needed"
