#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft) without Docker: fetch, format, start, wait, stop.

Standard library only, so it runs before any virtualenv exists. The broker's jars come from Maven
Central through ``pom.xml`` (``mvn dependency:copy-dependencies``) and are cached in
``deploy/kafka/target/lib`` (and in ``~/.m2``), so only the first run downloads anything.

    python deploy/kafka/launcher.py up   [--port 9092] [--data .run/kafka]
    python deploy/kafka/launcher.py down [--data .run/kafka]
    python deploy/kafka/launcher.py status [--data .run/kafka]

Tests import this module and call ``start``/``stop`` with a free port and a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIB = HERE / "target" / "lib"
DEFAULT_DATA = HERE.parents[1] / ".run" / "kafka"


@dataclass(frozen=True)
class Broker:
    port: int
    controller_port: int
    data: Path
    pid: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def fetch(quiet: bool = True) -> Path:
    """Download the broker jars once; later calls return the cached folder at once."""
    marker = LIB / ".complete"
    if marker.exists():
        return LIB
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to fetch Kafka from Maven Central")
    cmd = [
        mvn,
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(HERE / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={LIB}",
    ]
    if quiet:
        cmd.insert(1, "-q")
    # Maven's chatter (and the ANSI codes it prints even in batch mode) goes to stderr, so this
    # program's stdout carries only the answer.
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    marker.write_text("ok\n")
    return LIB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _properties(port: int, cport: int, logs: Path, partitions: int) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={logs}
num.partitions={partitions}
# Topics are declared by newsflow (Faust needs source topics and changelogs to agree).
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=67108864
message.max.bytes=33554432
replica.fetch.max.bytes=33554432
"""


def _java_cmd(main: str, *args: str, heap: str = "-Xmx768m") -> list[str]:
    java = shutil.which("java") or "java"
    log4j = HERE / "log4j.properties"
    return [
        java,
        heap,
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{LIB}/*",
        main,
        *args,
    ]


def answers(port: int, timeout: float = 1.0) -> bool:
    """True when the broker answers an ApiVersions request (not merely accepts TCP)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            client = b"probe"
            body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", s.recv(4))[0]
            data = b""
            while len(data) < size:
                chunk = s.recv(size - len(data))
                if not chunk:
                    return False
                data += chunk
            error = struct.unpack(">h", data[4:6])[0]
            return error == 0
    except (OSError, struct.error):
        return False


def start(
    port: int = 9092, data: Path = DEFAULT_DATA, partitions: int = 4, timeout: float = 90.0, keep_data: bool = False
) -> Broker:
    """Start a broker on ``port`` with its files under ``data``.

    By default the topic logs are wiped and storage is formatted with a new cluster id. With
    ``keep_data=True`` an earlier broker's logs, cluster id and controller port are reused, so a
    restarted broker serves the same topics, messages and committed offsets.
    """
    fetch()
    data = Path(data)
    if (data / "broker.pid").exists():
        stop(data)
    data.mkdir(parents=True, exist_ok=True)
    logs = data / "logs"
    props = data / "server.properties"
    reuse = keep_data and (logs / "meta.properties").exists() and props.exists()
    cport = _controller_port(props) if reuse else None
    if not reuse:
        shutil.rmtree(logs, ignore_errors=True)
    cport = cport or free_port()
    props.write_text(_properties(port, cport, logs, partitions))
    if not reuse:
        subprocess.run(
            _java_cmd("kafka.tools.StorageTool", "format", "-t", _kafka_uuid(), "-c", str(props), heap="-Xmx256m"),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    out = open(data / "broker.log", "ab")
    proc = subprocess.Popen(
        _java_cmd("kafka.Kafka", str(props)), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    (data / "broker.pid").write_text(f"{proc.pid} {port}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Kafka exited with {proc.returncode}; see {data / 'broker.log'}")
        if answers(port):
            return Broker(port=port, controller_port=cport, data=data, pid=proc.pid)
        time.sleep(0.3)
    stop(data)
    raise TimeoutError(f"Kafka did not answer on 127.0.0.1:{port} within {timeout}s")


def _controller_port(props: Path) -> int | None:
    for line in props.read_text().splitlines():
        if line.startswith("controller.quorum.voters="):
            return int(line.rsplit(":", 1)[1])
    return None


def _kafka_uuid() -> str:
    """Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. One in 64 would
    start with "-", which StorageTool's argument parser reads as an option ("-t: expected one
    argument"), so those are drawn again."""
    import base64

    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def stop(data: Path = DEFAULT_DATA, timeout: float = 30.0) -> bool:
    """SIGTERM (a clean shutdown), then SIGKILL after ``timeout``. True if a broker was running."""
    pidfile = Path(data) / "broker.pid"
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text().split()[0])
    pidfile.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            if _is_zombie(pid):
                break
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def status(data: Path = DEFAULT_DATA) -> str:
    pidfile = Path(data) / "broker.pid"
    if not pidfile.exists():
        return "stopped"
    pid, port = pidfile.read_text().split()
    return f"running pid={pid} port={port} answers={answers(int(port))}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["fetch", "up", "down", "status"])
    ap.add_argument("--port", type=int, default=int(os.environ.get("NEWSFLOW_KAFKA_PORT", "9092")))
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument(
        "--fresh",
        action="store_true",
        help="start from empty storage (default for `up`: keep the earlier broker's data)",
    )
    args = ap.parse_args(argv)
    if args.action == "fetch":
        print(fetch(quiet=False))
    elif args.action == "up":
        b = start(args.port, args.data, args.partitions, keep_data=not args.fresh)
        print(f"Kafka up on {b.bootstrap} (pid {b.pid}, data {b.data})")
    elif args.action == "down":
        print("Kafka stopped" if stop(args.data) else "Kafka was not running")
    else:
        print(status(args.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
