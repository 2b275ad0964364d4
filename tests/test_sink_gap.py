"""A record Faust fetched but never handed to the sink still reaches the files.

Root cause of the failover chaos run's missing line (2,000 articles on the enriched topic, 1,999 in
the files): Faust can drop a fetched record around a start or a rebalance. Two things then lost it
for good: Faust's commit bookkeeping committed over a single unacknowledged offset
(``agents.faust_fixes``), and when the stall watch did re-read it, the file sink skipped it because
it sat below the highest offset already written (``agents.sink``: skip by written offsets).
Here a real worker drops one enriched record on purpose (``evals.chaos_worker --drop-once``);
without either fix the article never reaches the files.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from evals.chaos import Workers, file_ids, make_articles, produce, wait_for
from newsflow.settings import Settings
from testing import isolated_env

pytestmark = pytest.mark.kafka


def test_dropped_enriched_record_is_reread_and_written(kafka: str, tmp_path: Path) -> None:
    env = isolated_env(
        kafka,
        tmp_path,
        "gap",
        NEWSFLOW_PARTITIONS="1",
        NEWSFLOW_ENTITY_MODE="fast",
        NEWSFLOW_STALL_SECONDS="3",
        NEWSFLOW_SINK_FLUSH_SECONDS="0.3",
        NEWSFLOW_SINK_BATCH="4",
    )
    s = Settings.from_env(env)
    arts = make_articles(24, seed=11, prefix="gap")
    workers = Workers(env, tmp_path, ["--drop-once", "enriched:0:6"])
    workers.start()
    try:

        async def run() -> bool:
            await produce(s, arts, rate=6.0)

            async def all_in_files() -> bool:
                return {a.id for a in arts} <= set(file_ids(Path(s.out_dir)))

            return await wait_for(all_in_files, 240, every=1.0)

        complete = asyncio.run(run())
        log = workers.logs()
        assert "dropped " in log, "the fault was not injected"
        files = Counter(file_ids(Path(s.out_dir)))
        missing = {a.id for a in arts} - set(files)
        assert complete and not missing, f"missing from the files: {missing}"
        assert all(c == 1 for c in files.values())
        assert "re-reading from 6" in log
    finally:
        workers.stop_all()
