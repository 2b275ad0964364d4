"""Nothing lost: workers killed, failed over and restarted in turn, the broker stopped and killed,
the sink's disk full, a stage that stalls, a message that kills its worker.

The scenarios live in ``evals/chaos.py``. The normal suite runs short forms (a few hundred
articles, fast entity mode: the faults are in the plumbing, not in the model); ``make chaos`` runs
every scenario once at full size (marker ``chaos``, deselected by default) and ``make chaos-soak``
five times in a row, each run on a fresh broker. Each test prints its row of the table.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evals.chaos import SCENARIOS, Result, broker_kill, crash, disk_fault, poison, rolling, scenario_env, stall

pytestmark = pytest.mark.kafka


def _report(res: Result, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{Result.HEADER}\n{res.row()}")
        for e in res.events:
            print(f"    {e}")


def _check(res: Result) -> None:
    if res.skipped:
        pytest.skip(res.skipped)
    assert res.lost == 0, res.events
    assert res.file_missing == 0 and res.file_dups == 0, res.events
    assert res.dead == res.expected_dead and res.out + res.dead == res.n_in, res.events
    assert res.files == res.n_in - res.dead, res.events
    assert all(res.checks.values()), (res.checks, res.events)


def test_crash_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """200 articles, one kill -9 mid-stream, restart: every id in the files exactly once."""
    res = asyncio.run(crash(scenario_env(kafka, tmp_path, "fast"), tmp_path, n=200, kills=1))
    _report(res, capsys)
    _check(res)


def test_broker_kill_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The broker SIGKILLed mid-stream and restarted on the same data (its own broker)."""
    res = asyncio.run(broker_kill(tmp_path, n=200, entity_mode="fast"))
    _report(res, capsys)
    _check(res)


def test_rolling_restart_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = asyncio.run(rolling(scenario_env(kafka, tmp_path, "fast"), tmp_path, n=400))
    _report(res, capsys)
    _check(res)


def test_disk_full_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ENOSPC under the sink: /health not ok, errors counted, nothing half-written, then it catches up."""
    res = asyncio.run(disk_fault(scenario_env(kafka, tmp_path, "fast"), tmp_path, n=200, hold=6.0))
    _report(res, capsys)
    _check(res)


def test_stage_stall_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 12 s stall in the entity step (session timeout 10 s): no rebalance, nothing lost."""
    res = asyncio.run(stall(scenario_env(kafka, tmp_path, "fast"), tmp_path, n=60, stalls=1))
    _report(res, capsys)
    _check(res)


def test_poison_message_short(kafka: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A message that kills its worker every time is dead-lettered after the crash limit."""
    res = asyncio.run(poison(scenario_env(kafka, tmp_path, "fast"), tmp_path, n=60, limit=2))
    _report(res, capsys)
    _check(res)


@pytest.mark.chaos
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_full_scenario(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every scenario at full size on a fresh broker (``make chaos``)."""
    default_n, runner = SCENARIOS[name]
    res = asyncio.run(runner(tmp_path, default_n, None))
    res.scenario = name
    _report(res, capsys)
    _check(res)
