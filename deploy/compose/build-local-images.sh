#!/usr/bin/env bash
# Local base images for machines that can reach Debian's and Maven Central's package servers and
# PyPI, but no image registry. Idempotent: an image that already exists is not rebuilt.
#
#   newsflow-local/python:3.11-bookworm  debootstrap'd Debian bookworm minbase + python3.11 + venv,
#                                        `docker import`ed; stands in for python:3.11-slim-bookworm
#   newsflow-local/kafka:3.9.1           that + openjdk-17-jre-headless + the Kafka 3.9.1 jars of
#                                        deploy/kafka (Maven Central); stands in for apache/kafka:3.9.1
#
# deploy/compose/local-images.yml points docker-compose.yml at them. Needs root, docker, debootstrap.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE=newsflow-local/python:3.11-bookworm
KAFKA=newsflow-local/kafka:3.9.1
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}

log() { printf '[build-local-images] %s\n' "$*" >&2; }

if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; }
  work=$(mktemp -d /var/tmp/newsflow-rootfs.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  log "debootstrap bookworm minbase into $work (a few minutes)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  # Trust the same extra certificate authorities as this machine (e.g. an egress TLS proxy's), so
  # apt and pip inside image builds reach their servers as the host does; pip uses the system store.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$work/rootfs/usr/local/share/ca-certificates/"
    chroot "$work/rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$work/rootfs/etc/pip.conf"
  echo "deb $MIRROR bookworm main" > "$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/archives/"*.deb
  log "docker import $BASE"
  tar -C "$work/rootfs" --numeric-owner -c . | $DOCKER import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["python3"]' - "$BASE" >/dev/null
  rm -rf "$work"
  trap - EXIT
fi

if ! $DOCKER image inspect "$KAFKA" >/dev/null 2>&1; then
  log "fetch the Kafka jars (Maven Central) and build $KAFKA"
  # Never parse Maven's output: fetch fills a known folder.
  python3 "$ROOT/deploy/kafka/launcher.py" fetch >&2
  lib="$ROOT/deploy/kafka/target/lib"
  test -f "$lib/.complete" || { log "Kafka jars missing in $lib after fetch"; exit 1; }
  ctx=$(mktemp -d /var/tmp/newsflow-kafka-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  cp -r "$ROOT/deploy/compose/kafka-local/." "$ctx/"
  cp "$ROOT/deploy/kafka/log4j.properties" "$ctx/"
  mkdir "$ctx/lib" && cp "$lib"/*.jar "$ctx/lib/"
  $DOCKER build -q --build-arg BASE_IMAGE="$BASE" -t "$KAFKA" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
fi
log "ready: $BASE, $KAFKA"
