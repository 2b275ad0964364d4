"""``newsflow worker``: one Faust worker running every agent; start more to scale out."""

from __future__ import annotations

import asyncio
import logging

from newsflow.kafka import ensure_topics
from newsflow.settings import get_settings


def run_worker() -> int:
    s = get_settings()
    # Topics first, with their declared partition counts (broker auto-create stays off).
    asyncio.run(ensure_topics(s))
    from faust import Worker

    from pipeline.enrich import warm_up

    warm_up(s.entity_mode)

    from agents.topology import app

    if s.json_logs:
        from newsflow.logs import use_json_logs

        use_json_logs()
    worker = Worker(app, loglevel=s.log_level, quiet=True)
    # Faust's terminal spinner turns the root logger to DEBUG to animate itself: ~175 log records
    # per article in ``make bench``'s profile. A service has no terminal to animate.
    worker.spinner = None
    logging.getLogger("newsflow").info("worker starting for %s", s.kafka_bootstrap)
    worker.execute_from_commandline()
    return 0
