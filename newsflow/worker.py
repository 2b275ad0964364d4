"""``newsflow worker``: one Faust worker running every agent; start more to scale out."""

from __future__ import annotations

import asyncio
import logging

from newsflow.kafka import ensure_topics
from newsflow.settings import get_settings


def run_worker() -> int:
    s = get_settings()
    # Faust opens its table store under data_dir and dies with a bare FileNotFoundError when a
    # parent folder is missing: create what the settings name.
    for folder in (s.data_dir, s.out_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # Topics first, with their declared partition counts (broker auto-create stays off).
    asyncio.run(ensure_topics(s))
    from faust import Worker

    from pipeline.enrich import warm_up
    from pipeline.model_registry import loaded

    warm_up(s.entity_mode)  # a missing model stops the worker here, before it joins the group

    from agents.topology import app

    if s.json_logs:
        from newsflow.logs import use_json_logs

        use_json_logs()
    worker = Worker(app, loglevel=s.log_level, quiet=True)
    # Faust's terminal spinner turns the root logger to DEBUG to animate itself: ~175 log records
    # per article in ``make bench``'s profile. A service has no terminal to animate.
    worker.spinner = None
    log = logging.getLogger("newsflow")
    log.info("worker starting for %s (entity mode %s)", s.kafka_bootstrap, s.entity_mode)
    for m in loaded():
        log.info("model loaded: %s/%s version %s", m.stage, m.name, m.version)
    worker.execute_from_commandline()
    return 0
