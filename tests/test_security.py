"""Security for real: a broker with SASL_SSL (SCRAM-SHA-512), TLS certificates made here, and ACLs.

The broker (``deploy/kafka/launcher.py`` with ``Security``) has one SASL_SSL listener whose
certificate a throw-away CA signed (openssl, keytool), and the StandardAuthorizer: nothing is
allowed unless an ACL says so. ``newsflow`` may do everything on its topics (prefix), its Faust
changelogs and consumer group (app id); ``reader`` may only read the enriched topic. Every client
connects with the NEWSFLOW_* settings of docs/security.md, through the real command line.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from newsflow.kafka import producer
from newsflow.settings import Settings
from testing import isolated_env, stop_worker

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def _cli(env: dict[str, str], *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def secure(launcher, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A secured broker with ACLs for one app id and topic prefix; yields (settings env by user, secrets)."""
    tmp = tmp_path_factory.mktemp("secure")
    passwords = {"newsflow": secrets.token_urlsafe(18), "reader": secrets.token_urlsafe(18)}
    sec = launcher.Security.make(tmp / "certs", passwords)
    port = launcher.free_port()
    broker = launcher.start(port=port, data=tmp / "kafka", partitions=2, security=sec)
    base = isolated_env(broker.bootstrap, tmp, "sec", NEWSFLOW_PARTITIONS="2", NEWSFLOW_SINK_FLUSH_SECONDS="0.5")
    prefix, app_id = base["NEWSFLOW_TOPIC_PREFIX"], base["NEWSFLOW_APP_ID"]
    try:
        launcher.add_acls(
            sec,
            broker.bootstrap,
            tmp,
            ["--allow-principal", "User:newsflow", "--operation", "All", "--resource-pattern-type", "prefixed",
             "--topic", f"{prefix}.", "--topic", app_id, "--group", app_id],
            ["--allow-principal", "User:reader", "--operation", "Read", "--operation", "Describe",
             "--topic", f"{prefix}.enriched"],
        )  # fmt: skip
        common = {
            **base,
            "NEWSFLOW_SECURITY_PROTOCOL": "SASL_SSL",
            "NEWSFLOW_SASL_MECHANISM": "SCRAM-SHA-512",
            "NEWSFLOW_SSL_CAFILE": str(sec.cafile),
        }
        envs = {
            user: {**common, "NEWSFLOW_SASL_USERNAME": user, "NEWSFLOW_SASL_PASSWORD": pw}
            for user, pw in passwords.items()
        }
        yield envs, [*passwords.values(), *sec.users.values(), sec.store_password], tmp
    finally:
        launcher.stop(tmp / "kafka")


def _no_secret(text: str, secret_values: list[str]) -> None:
    for value in secret_values:
        assert value not in text, "a secret appeared in the output"


def test_pipeline_over_sasl_ssl_with_acls(secure, launcher) -> None:  # type: ignore[no-untyped-def]
    """Worker, replay and tail connect as docs/security.md says; the seed comes out for the reader."""
    envs, secret_values, tmp = secure
    nf, reader = envs["newsflow"], envs["reader"]
    topics = _cli(nf, "topics")
    assert topics.returncode == 0, topics.stderr
    log = tmp / "worker.log"
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "newsflow.cli", "worker"],
            env={**os.environ, **nf, "NEWSFLOW_WEB_PORT": str(launcher.free_port())},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        replayed = _cli(nf, "replay", str(SEEDS), "-q")
        assert replayed.returncode == 0, replayed.stderr
        ids: set[str] = set()
        deadline = time.monotonic() + 300
        while not ids and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            tailed = _cli(reader, "tail", "--json")
            assert tailed.returncode == 0, tailed.stderr
            ids = {orjson.loads(line)["id"] for line in tailed.stdout.splitlines() if line.startswith("{")}
            _no_secret(tailed.stdout + tailed.stderr, secret_values)
            time.sleep(2)
        assert ids, f"nothing reached the enriched topic; worker log:\n{log.read_text()[-3000:]}"
        _no_secret(replayed.stdout + replayed.stderr + topics.stdout + topics.stderr, secret_values)
    finally:
        stop_worker(worker)
    _no_secret(log.read_text(errors="replace"), secret_values)
    assert "TopicAuthorizationFailed" not in log.read_text(errors="replace")


@pytest.mark.parametrize("command", [("replay", str(SEEDS), "-q"), ("tail",), ("worker",)])
def test_wrong_password_is_one_clear_error(secure, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """A wrong password ends the command with a non-zero exit and one line saying why, not a retry loop."""
    envs, secret_values, _ = secure
    wrong = secrets.token_urlsafe(12)
    env = {**envs["newsflow"], "NEWSFLOW_SASL_PASSWORD": wrong, "NEWSFLOW_WEB_ENABLED": "false"}
    done = _cli(env, *command, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "refused the login of user 'newsflow'" in lines[0] and "NEWSFLOW_SASL_PASSWORD" in lines[0]
    _no_secret(done.stdout + done.stderr, [*secret_values, wrong])


def test_untrusted_certificate_is_one_clear_error(secure, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A CA that did not sign the broker's certificate: the TLS handshake fails with one clear line."""
    envs, _, _ = secure
    import importlib

    other = importlib.import_module("newsflow_kafka_launcher").Security.make(tmp_path / "other")
    done = _cli({**envs["newsflow"], "NEWSFLOW_SSL_CAFILE": str(other.cafile)}, "tail", timeout=120)
    assert done.returncode == 2
    assert "TLS with Kafka" in done.stderr and "NEWSFLOW_SSL_CAFILE" in done.stderr


def test_reader_cannot_produce_to_raw(secure) -> None:  # type: ignore[no-untyped-def]
    """The consumer principal reads the enriched topic and nothing else: producing to raw is refused."""
    envs, _, _ = secure
    s = Settings.from_env(envs["reader"])

    async def attempt() -> None:
        prod = producer(s, request_timeout_ms=20_000)
        await prod.start()
        try:
            await prod.send_and_wait(s.topic("raw"), key=b"k", value=b"{}")
        finally:
            await prod.stop()

    with pytest.raises((TopicAuthorizationFailedError, KafkaError)) as caught:
        asyncio.run(attempt())
    assert "Authorization" in type(caught.value).__name__ or "authoriz" in str(caught.value).lower()


def test_settings_hide_the_password() -> None:
    s = Settings(sasl_password="hunter2-very-secret")  # type: ignore[arg-type]
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert "sasl_plain_password" not in s.kafka_client_kwargs()  # PLAINTEXT: no SASL options at all
    sasl = Settings(security_protocol="SASL_PLAINTEXT", sasl_password="hunter2-very-secret")  # type: ignore[arg-type]
    assert sasl.kafka_client_kwargs()["sasl_plain_password"] == "hunter2-very-secret"
