#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft) without Docker: fetch, format, start, wait, stop.

Standard library only, so it runs before any virtualenv exists. The broker's jars come from Maven
Central through ``pom.xml`` (``mvn dependency:copy-dependencies``) and are cached in
``deploy/kafka/target/lib`` (and in ``~/.m2``), so only the first run downloads anything.

    python deploy/kafka/launcher.py up   [--port 9092] [--data .run/kafka]
    python deploy/kafka/launcher.py down [--data .run/kafka]
    python deploy/kafka/launcher.py status [--data .run/kafka]

Tests import this module and call ``start``/``stop`` with a free port and a temporary folder.

``start(..., security=Security.make(folder, users))`` starts the broker with one ``SASL_SSL``
listener instead: TLS with a certificate signed by a throw-away CA that ``make_certs`` creates with
openssl (the client trusts ``ca.pem``), SASL/SCRAM-SHA-512 users written into the KRaft storage at
format time, and the StandardAuthorizer (deny unless an ACL allows; ``add_acls`` writes them through
Kafka's own ``AclCommand``). The controller listener stays PLAINTEXT on 127.0.0.1 and is not
advertised: its principal (``ANONYMOUS``) is a super user so the node can talk to itself. For tests
and local trials of docs/security.md; a production cluster has its own CA and users.
"""

from __future__ import annotations

import argparse
import os
import secrets
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


@dataclass(frozen=True)
class Security:
    """A SASL_SSL listener: TLS keystore, the CA clients trust, SCRAM users (name -> password); ``admin``
    is the broker's own user and the only super user besides the local controller."""

    cafile: Path
    keystore: Path
    store_password: str
    users: dict[str, str]
    admin: str = "admin"

    @classmethod
    def make(cls, folder: Path, users: dict[str, str] | None = None) -> Security:
        """Certificates in ``folder`` (``make_certs``) plus an admin user with a random password."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store_password = secrets.token_hex(12)
        cafile, keystore = make_certs(folder, store_password)
        return cls(cafile, keystore, store_password, {"admin": secrets.token_hex(16), **(users or {})})

    def client_properties(self, folder: Path, user: str | None = None) -> Path:
        """A Java client config (for Kafka's command-line tools) logging in as ``user`` (default admin)."""
        user = user or self.admin
        path = Path(folder) / f"client-{user}.properties"
        truststore = self.cafile.with_name("truststore.p12")
        path.write_text(
            "security.protocol=SASL_SSL\n"
            "sasl.mechanism=SCRAM-SHA-512\n"
            f"sasl.jaas.config={_jaas(user, self.users[user])}\n"
            "ssl.truststore.type=PKCS12\n"
            f"ssl.truststore.location={truststore}\n"
            f"ssl.truststore.password={self.store_password}\n"
        )
        path.chmod(0o600)
        return path


def _jaas(user: str, password: str) -> str:
    return f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";'


def make_certs(folder: Path, store_password: str, days: int = 2) -> tuple[Path, Path]:
    """A CA and a broker certificate for 127.0.0.1/localhost signed by it (openssl), the broker's
    PKCS12 keystore and a PKCS12 truststore holding the CA (keytool). Returns (ca.pem, broker.p12)."""
    folder = Path(folder)
    openssl = shutil.which("openssl")
    keytool = shutil.which("keytool")
    if openssl is None or keytool is None:
        raise RuntimeError("openssl and keytool are needed to make the test certificates")

    def run(*args: str) -> None:
        subprocess.run(args, check=True, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    run(
        openssl,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        str(days),
        "-subj",
        "/CN=newsflow-test-ca",
    )
    (folder / "broker.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        openssl,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
        "-subj",
        "/CN=localhost",
    )
    run(
        openssl,
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "broker.pem",
        "-days",
        str(days),
        "-extfile",
        "broker.ext",
    )
    run(
        openssl,
        "pkcs12",
        "-export",
        "-in",
        "broker.pem",
        "-inkey",
        "broker.key",
        "-certfile",
        "ca.pem",
        "-name",
        "broker",
        "-out",
        "broker.p12",
        "-passout",
        f"pass:{store_password}",
    )
    (folder / "truststore.p12").unlink(missing_ok=True)
    run(
        keytool,
        "-importcert",
        "-noprompt",
        "-alias",
        "ca",
        "-file",
        "ca.pem",
        "-storetype",
        "PKCS12",
        "-keystore",
        "truststore.p12",
        "-storepass",
        store_password,
    )
    for secret in ("ca.key", "broker.key", "broker.p12", "truststore.p12"):
        (folder / secret).chmod(0o600)
    return folder / "ca.pem", folder / "broker.p12"


def add_acls(security: Security, bootstrap: str, folder: Path, *acl_args: list[str]) -> None:
    """Run Kafka's ``AclCommand --add`` once per argument list, as the admin user, e.g.
    ``["--allow-principal", "User:x", "--operation", "Read", "--topic", "t"]``."""
    config = security.client_properties(folder)
    for args in acl_args:
        subprocess.run(
            _java_cmd(
                "kafka.admin.AclCommand",
                "--bootstrap-server",
                bootstrap,
                "--command-config",
                str(config),
                "--add",
                "--force",
                *args,
                heap="-Xmx256m",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


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


def _listeners(port: int, cport: int, security: Security | None) -> str:
    if security is None:
        return f"""\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""
    truststore = security.cafile.with_name("truststore.p12")
    return f"""\
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={_jaas(security.admin, security.users[security.admin])}
ssl.keystore.type=PKCS12
ssl.keystore.location={security.keystore}
ssl.keystore.password={security.store_password}
ssl.key.password={security.store_password}
ssl.truststore.type=PKCS12
ssl.truststore.location={truststore}
ssl.truststore.password={security.store_password}
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{security.admin};User:ANONYMOUS
"""


def _properties(port: int, cport: int, logs: Path, partitions: int, security: Security | None = None) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
controller.listener.names=CONTROLLER
{_listeners(port, cport, security)}log.dirs={logs}
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


def answers(port: int, timeout: float = 1.0, tls: bool = False) -> bool:
    """True when the broker answers an ApiVersions request (not merely accepts TCP). With ``tls``
    the request goes over TLS without verifying the certificate (ApiVersions needs no login)."""
    import ssl

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            s: socket.socket = raw
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(raw)
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
    port: int = 9092,
    data: Path = DEFAULT_DATA,
    partitions: int = 4,
    timeout: float = 90.0,
    keep_data: bool = False,
    security: Security | None = None,
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
    props.write_text(_properties(port, cport, logs, partitions, security))
    props.chmod(0o600)  # holds the keystore and admin passwords when secured
    if not reuse:
        scram: list[str] = []
        for user, password in (security.users if security else {}).items():
            scram += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        subprocess.run(
            _java_cmd(
                "kafka.tools.StorageTool", "format", "-t", _kafka_uuid(), "-c", str(props), *scram, heap="-Xmx256m"
            ),
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
        if answers(port, tls=security is not None):
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


def stop(data: Path = DEFAULT_DATA, timeout: float = 30.0, kill: bool = False) -> bool:
    """SIGTERM (a clean shutdown), then SIGKILL after ``timeout``; with ``kill``, SIGKILL at once
    (a crash: no log flush, no controlled shutdown). True if a broker was running."""
    pidfile = Path(data) / "broker.pid"
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text().split()[0])
    pidfile.unlink()
    try:
        os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
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
