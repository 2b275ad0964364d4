"""Small aiokafka helpers shared by ``replay``, ``tail``, ``topics`` and the demo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from newsflow.settings import Settings

STAGES = ("raw", "cleaned", "tagged", "classified", "enriched", "deadletter")


class LoginRefused(RuntimeError):
    """The broker refused this client's credentials or TLS; retrying cannot help."""


async def check_login(s: Settings, timeout: float = 20.0) -> None:
    """Open one connection to a bootstrap broker with the configured security and log in, so that
    wrong credentials or an untrusted certificate end the command with one clear error instead of
    every client retrying in a loop. A broker that cannot be reached is left to the clients'
    own retries (it may be starting)."""
    import ssl

    from aiokafka.conn import create_conn
    from aiokafka.errors import AuthenticationFailedError, KafkaConnectionError, SaslAuthenticationFailed

    kw = s.kafka_client_kwargs()
    who = f"user {s.sasl_username!r} ({kw.get('sasl_mechanism')}) " if s.security_protocol.startswith("SASL") else ""
    for server in s.kafka_bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout * 1000), **kw), timeout
            )
        except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
            raise LoginRefused(
                f"Kafka at {server} refused the login of {who}over {s.security_protocol}: {exc}. "
                "Check NEWSFLOW_SASL_USERNAME / NEWSFLOW_SASL_PASSWORD / NEWSFLOW_SASL_MECHANISM."
            ) from None
        except ssl.SSLError as exc:
            raise LoginRefused(
                f"TLS with Kafka at {server} failed: {exc}. Check NEWSFLOW_SSL_CAFILE (the CA that signed the "
                "broker's certificate) and NEWSFLOW_SECURITY_PROTOCOL."
            ) from None
        except (OSError, KafkaConnectionError, TimeoutError):
            continue  # unreachable: the clients retry as usual
        conn.close()
        return


def topic_partitions(s: Settings) -> dict[str, int]:
    return {s.topic(t): (s.dedup_partitions if t == "classified" else s.partitions) for t in STAGES}


async def ensure_topics(s: Settings) -> list[str]:
    """Create the pipeline's topics with the declared partition counts; returns those created."""
    return await create_missing_topics(s, {name: (n, {}) for name, n in topic_partitions(s).items()})


async def create_missing_topics(s: Settings, specs: dict[str, tuple[int, dict[str, str]]]) -> list[str]:
    """Create each topic of ``specs`` (name -> partitions, topic configs) that does not exist yet;
    returns those created. Broker auto-create stays off, so every topic is declared this way."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, **s.kafka_client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, num_partitions=n, replication_factor=s.replication_factor, topic_configs=cfg or None)
            for name, (n, cfg) in specs.items()
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()


def producer(s: Settings, **kw: object) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=s.max_request_bytes,
        **s.kafka_client_kwargs(),
        **kw,  # type: ignore[arg-type]
    )


async def read_topic(
    s: Settings,
    topic: str,
    *,
    follow: bool = False,
    from_beginning: bool = True,
    start_offsets: dict[int, int] | None = None,
) -> AsyncIterator[tuple[bytes | None, bytes]]:
    """Yield (key, value) of every partition of ``topic``; without ``follow``, stop at the log end
    as it was when reading began (so the call always finishes)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        fetch_max_bytes=s.reader_fetch_bytes,
        max_partition_fetch_bytes=s.max_request_bytes,
        **s.kafka_client_kwargs(),
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - first contact
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        if start_offsets is not None:
            for tp in tps:
                consumer.seek(tp, start_offsets.get(tp.partition, 0))
        elif from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        end = await consumer.end_offsets(tps) if not follow else {}
        while True:
            if not follow and all([await consumer.position(tp) >= end[tp] for tp in tps]):
                return
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    yield r.key, r.value
    finally:
        await consumer.stop()


async def end_offsets(s: Settings, topic: str) -> dict[int, int]:
    """The log-end offset of every partition of ``topic`` (where new messages will start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, **s.kafka_client_kwargs())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001
        parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def follow_until(
    s: Settings, topic: str, start_offsets: dict[int, int], timeout: float, done: Callable[[bytes], bool]
) -> None:
    """Feed each new message on ``topic`` after ``start_offsets`` to ``done`` until it returns True
    or ``timeout`` seconds pass (the callers then report what they have)."""

    async def _read() -> None:
        async for _k, v in read_topic(s, topic, follow=True, start_offsets=start_offsets):
            if done(v):
                return

    try:
        await asyncio.wait_for(_read(), timeout)
    except TimeoutError:
        pass


async def collect(s: Settings, topic: str, start_offsets: dict[int, int], expected: int, timeout: float) -> list[bytes]:
    """Wait until ``expected`` new messages arrived on ``topic`` after ``start_offsets``."""
    out: list[bytes] = []

    def _done(v: bytes) -> bool:
        out.append(v)
        return len(out) >= expected

    await follow_until(s, topic, start_offsets, timeout, _done)
    return out
