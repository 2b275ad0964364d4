"""Nothing lost: kill -9 a worker, fail over between workers, restart the broker, mid-stream.

The scenarios live in ``evals/chaos.py``. ``make chaos`` runs the 2,000-article forms (marker
``chaos``, deselected by the default ``-m 'not chaos'`` in pyproject.toml); the normal suite runs a 300-article crash.
Each test prints one row: in, out, dead-lettered, lost, duplicated (topic), file lines, file
duplicates, file misses, seconds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evals.chaos import Result, broker_restart, crash, failover, scenario_env

pytestmark = pytest.mark.kafka


def _report(res: Result, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{Result.HEADER}\n{res.row()}")
        for e in res.events:
            print(f"    {e}")


def _check(res: Result, alive_marker: str) -> None:
    assert res.lost == 0, res.events
    assert res.out == res.n_in and res.dead == 0
    assert res.file_missing == 0 and res.file_dups == 0
    assert res.files == res.n_in
    assert any(e.startswith(alive_marker) and e.split("=", 1)[1].startswith("True") for e in res.events), res.events


def test_crash_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """300 articles, one kill -9 mid-stream, restart: every id in the files exactly once."""
    res = asyncio.run(crash(scenario_env(kafka, tmp_path), tmp_path, n=300, kills=1))
    _report(res, capsys)
    _check(res, "last worker alive")


@pytest.mark.chaos
def test_crash_2000_two_kills(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = asyncio.run(crash(scenario_env(kafka, tmp_path), tmp_path, n=2000, kills=2))
    _report(res, capsys)
    _check(res, "last worker alive")


@pytest.mark.chaos
def test_failover_2000(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = asyncio.run(failover(scenario_env(kafka, tmp_path), tmp_path, n=2000))
    _report(res, capsys)
    _check(res, "survivor alive")


@pytest.mark.chaos
def test_broker_restart_2000(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dedicated broker (own port and data folder) stops mid-stream and comes back on the same data."""
    res = asyncio.run(broker_restart(tmp_path, n=2000))
    _report(res, capsys)
    _check(res, "worker alive")
