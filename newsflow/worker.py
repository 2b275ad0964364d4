"""``newsflow worker``: one Faust worker running every agent; start more to scale out."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from newsflow.kafka import ensure_topics
from newsflow.settings import Settings, get_settings


def run_worker(s: Settings | None = None) -> int:
    """Create the topics, load the models, build the app from ``s`` and run it until stopped."""
    s = s or get_settings()
    # Faust opens its table store under data_dir and dies with a bare FileNotFoundError when a
    # parent folder is missing: create what the settings name.
    for folder in (s.data_dir, s.out_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # Topics first, with their declared partition counts (broker auto-create stays off).
    asyncio.run(ensure_topics(s))
    from faust import Worker

    from agents.topology import build_app
    from pipeline.enrich import warm_up
    from pipeline.model_registry import loaded

    warm_up(s.entity_mode)  # a missing model stops the worker here, before it joins the group
    app = build_app(s)
    if s.json_logs:
        from newsflow.logs import use_json_logs

        use_json_logs()
    worker = Worker(app, loglevel=s.log_level, quiet=True)
    # Faust's terminal spinner turns the root logger to DEBUG to animate itself (a log record per
    # step of every article); a service has no terminal to animate.
    worker.spinner = None
    log = logging.getLogger("newsflow")
    log.info("worker starting for %s (entity mode %s)", s.kafka_bootstrap, s.entity_mode)
    for m in loaded():
        log.info("model loaded: %s/%s version %s", m.stage, m.name, m.version)
    worker.execute_from_commandline()
    return 0


def start_worker(env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A worker in its own process (``newsflow worker``) with ``env`` added to this environment;
    its output goes to ``log``. Stop it with ``stop_worker``."""
    full = {**os.environ, **(env or {})}
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "newsflow.cli", "worker"],
        env=full,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 30.0, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL with ``kill``) to the worker's process group; SIGKILL after ``timeout``."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
