"""``newsflow poll``: a Faust worker that polls the registered feeds of the partitions it owns.

It is its own Faust app (id ``<NEWSFLOW_APP_ID>-poll``, so its own consumer group), separate from
``newsflow worker``: polling is I/O-bound and scales by the number of feeds, the stages are
CPU-bound and scale by articles; each is started, scaled and restarted on its own, and the stage
topology needs no hook for it. Its HTTP port (``/metrics``, ``/health``, ``/feeds``) is
``NEWSFLOW_POLL_WEB_PORT``.
"""

from __future__ import annotations

import asyncio
import logging

from newsflow.feeds import ensure_feed_topics, poll_app_id
from newsflow.kafka import ensure_topics
from newsflow.settings import Settings, get_settings


def poll_settings(s: Settings) -> Settings:
    return s.model_copy(update={"app_id": poll_app_id(s), "web_port": s.poll_web_port})


def run_poller() -> int:
    s = get_settings()

    async def _topics() -> None:
        await ensure_topics(s)
        await ensure_feed_topics(s)

    asyncio.run(_topics())
    from faust import Worker

    from agents.app import create_app
    from agents.feeds import build_poller

    ps = poll_settings(s)
    app = create_app(ps)
    build_poller(app, ps)
    if s.json_logs:
        from newsflow.logs import use_json_logs

        use_json_logs()
    worker = Worker(app, loglevel=s.log_level, quiet=True)
    worker.spinner = None  # see newsflow.worker: the spinner turns on DEBUG logging
    logging.getLogger("newsflow").info("poller starting for %s as %s", s.kafka_bootstrap, ps.app_id)
    worker.execute_from_commandline()
    return 0
