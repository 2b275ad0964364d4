"""Shared fixtures. The ``kafka`` fixture starts a real single-node Apache Kafka broker (KRaft) from
the jars that ``deploy/kafka`` fetches, on a free port in a temporary folder, once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import isolated_env
from testing import launcher as _launcher

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_6b2718a8a06e0f9d.txt"


@pytest.fixture(scope="session")
def launcher():  # type: ignore[no-untyped-def]
    return _launcher()


@pytest.fixture(scope="session")
def kafka(launcher, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Bootstrap address of a real broker that lives for the whole test session."""
    data = tmp_path_factory.mktemp("kafka")
    port = launcher.free_port()
    broker = launcher.start(port=port, data=data, partitions=4)
    try:
        yield broker.bootstrap
    finally:
        launcher.stop(data)


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def pipeline_env(kafka, tmp_path, launcher) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """NEWSFLOW_* settings isolating one test: own topics, consumer group, output folder."""
    return isolated_env(
        kafka,
        tmp_path,
        "test",
        NEWSFLOW_WEB_PORT=str(launcher.free_port()),
        NEWSFLOW_PARTITIONS="2",
        NEWSFLOW_SINK_FLUSH_SECONDS="0.5",
    )
