#!/usr/bin/env bash
# `make compose-test`: the stack of deploy/docker-compose.yml on a real Docker engine, end to end.
#
#  1. Docker engine: Debian's docker.io and docker-compose (apt) if missing; dockerd started here if
#     none answers (and stopped again at the end).
#  2. Local base images (deploy/compose/build-local-images.sh) applied by deploy/compose/local-images.yml;
#     set NEWSFLOW_COMPOSE_PULL=1 to use the registry images of docker-compose.yml instead.
#  3. up: kafka, topics, worker x3 (--scale) and the feed poller until every healthcheck (/health)
#     passes; `feeds list` reads the feed registry.
#  4. replay seeds/ (the one-shot replay service), then a second run that the checkpoint skips.
#  5. the enriched seed read from the topic (`newsflow tail`) and from the files of the sink volume,
#     tagged by the packaged NER model (its record names the model, and holds entities the rules-only
#     mode does not find); /health (models loaded) and /metrics of every worker; the consumer group
#     shared by three members.
#  6. down -v, always (trap), also after a failure or Ctrl-C.
# NEWSFLOW_COMPOSE_SOURCE=head builds the image from the last commit (git archive) instead of the
# working tree, e.g. while uncommitted work in progress does not run.
# Idempotent: a leftover stack of an earlier run is removed first; images are reused.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PROJECT=${NEWSFLOW_COMPOSE_PROJECT:-newsflow-ct}
WORKERS=${NEWSFLOW_COMPOSE_WORKERS:-3}
STATE=$ROOT/.run/compose-test
mkdir -p "$STATE"
T0=$(date +%s)
log() { printf '[compose-test %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }

# --- 1. engine -----------------------------------------------------------------------------------
need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null
fi
# Debian's client matches Debian's daemon (a newer client elsewhere on PATH may not).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
export DOCKER

STARTED_DOCKERD=
if ! $DOCKER info >/dev/null 2>&1; then
  # Containers get the MTU of the route out (tunnels and sandboxes often have less than 1500).
  dev=$(ip route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
  mtu=$(cat "/sys/class/net/${dev:-eth0}/mtu" 2>/dev/null || echo 1500)
  log "starting dockerd (mtu $mtu), log $STATE/dockerd.log"
  setsid dockerd --mtu "$mtu" >"$STATE/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$STATE/dockerd.pid"
  STARTED_DOCKERD=$(cat "$STATE/dockerd.pid")
  for _ in $(seq 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  if ! $DOCKER info >/dev/null 2>&1; then
    log "dockerd did not come up; last lines of its log:"; tail -20 "$STATE/dockerd.log" >&2; exit 1
  fi
fi

FILES=(-f deploy/docker-compose.yml)
[ "${NEWSFLOW_COMPOSE_PULL:-0}" = 1 ] || FILES+=(-f deploy/compose/local-images.yml)
KAFKA_HOST_PORT=${KAFKA_HOST_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
export KAFKA_HOST_PORT
compose() { docker-compose -p "$PROJECT" "${FILES[@]}" --profile tools "$@"; }

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if ((rc)); then
    log "FAILED (exit $rc); worker and kafka logs in $STATE/"
    compose logs --no-color worker > "$STATE/worker.log" 2>&1 || true
    compose logs --no-color kafka > "$STATE/kafka.log" 2>&1 || true
  fi
  log "down -v"
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  if [ -n "$STARTED_DOCKERD" ]; then
    log "stopping the dockerd started here (pid $STARTED_DOCKERD)"
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
  fi
  log "total $(( $(date +%s) - T0 ))s, exit $rc"
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

compose down -v --remove-orphans >/dev/null 2>&1 || true

# --- 2. images -----------------------------------------------------------------------------------
if [ "${NEWSFLOW_COMPOSE_SOURCE:-worktree}" = head ]; then
  rm -rf "$STATE/src" && mkdir -p "$STATE/src"
  git archive HEAD | tar -x -C "$STATE/src"
  export NEWSFLOW_BUILD_CONTEXT=$STATE/src
  log "building from HEAD $(git rev-parse --short HEAD)"
fi
if [ "${NEWSFLOW_COMPOSE_PULL:-0}" != 1 ]; then
  log "local base images"
  bash deploy/compose/build-local-images.sh
fi
log "build the newsflow image"
compose build -q topics
log "images ready"

# --- 3. up ---------------------------------------------------------------------------------------
T_UP=$(date +%s)
compose up -d --scale worker="$WORKERS" kafka topics worker poller 2>&1 | sed 's/^/    /' >&2
health() { $DOCKER inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$@"; }
deadline=$(( $(date +%s) + 900 ))  # model loading takes minutes on a busy 2-core machine
while :; do
  mapfile -t ids < <(compose ps -q worker)
  states=$( ((${#ids[@]})) && health "${ids[@]}" | sort | uniq -c | tr -s ' \n' ' ' || echo none)
  healthy=$( ((${#ids[@]})) && health "${ids[@]}" | grep -c '^healthy$' || true)
  [ "${healthy:-0}" -ge "$WORKERS" ] && break
  if [ "$(date +%s)" -gt "$deadline" ]; then log "workers not healthy: $states"; exit 1; fi
  sleep 5
done
log "kafka + topics + $WORKERS healthy workers in $(( $(date +%s) - T_UP ))s"
# The feed poller (its own Faust app) answers /health, and the registry tool reads its topic.
until [ "$(health "$(compose ps -q poller)")" = healthy ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then log "poller not healthy"; exit 1; fi
  sleep 5
done
compose run --rm -T feeds list >/dev/null
log "poller healthy; feeds list answers"
compose logs --no-color topics 2>/dev/null | grep partitions= | sed 's/^/    /' >&2 || true

# --- 4. replay -----------------------------------------------------------------------------------
out=$(compose run --rm replay 2>&1 | tail -1)
log "replay: $out"
grep -q "replayed 1 articles" <<<"$out"
again=$(compose run --rm replay 2>&1 | tail -1)
log "replay again: $again"
grep -q "replayed 0 articles.*skipped 1 already acknowledged" <<<"$again"

# --- 5. output -----------------------------------------------------------------------------------
# The stack is new (down -v first), so the seed is the only article on the topic.
seed_id='"schema_version"'
deadline=$(( $(date +%s) + 180 ))
until topic=$(compose run --rm -T tail --json 2>/dev/null | grep "$seed_id" | head -1) && [ -n "$topic" ]; do
  [ "$(date +%s)" -gt "$deadline" ] && { log "the seed did not reach newsflow.enriched"; exit 1; }
  sleep 3
done
# The same seed through the rules-only mode, in the same image, for what only the model finds.
rules=$(compose run --rm --no-deps -T -e NEWSFLOW_ENTITY_MODE=fast --entrypoint sh replay \
  -c 'newsflow enrich /backlog -o /tmp/rules.jsonl >/dev/null 2>&1 && cat /tmp/rules.jsonl' | grep "$seed_id" | head -1)
python3 - "$topic" "$rules" <<'PY'
import json, sys
d, rules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert d["dedup"]["status"] == "unique" and d["schema_version"].startswith("1."), d["dedup"]
used = {(m["stage"], m["name"]) for m in d["models"]}
assert ("entities", "ner_conll_small") in used, f"the record was not tagged by the NER model: {used}"
by_model = {(m["text"], m["label"]) for m in d["entities"]} - {(m["text"], m["label"]) for m in rules["entities"]}
assert by_model, "every entity of the seed is one the rules find too: was the model used?"
print(f"    topic: {d['id']} {d['title'][:60]!r} category={d['category']['label']} "
      f"event={d['event']['type']} dedup={d['dedup']['status']}; only the model: {sorted(by_model)[:4]}",
      file=sys.stderr)
PY
deadline=$(( $(date +%s) + 60 ))
until files=$(compose run --rm --no-deps -T --entrypoint sh worker -c 'cat /data/out/*/*.jsonl 2>/dev/null' | grep "$seed_id") && [ -n "$files" ]; do
  [ "$(date +%s)" -gt "$deadline" ] && { log "the seed did not reach the file sink volume"; exit 1; }
  sleep 2
done
log "files: $(wc -l <<<"$files") line(s) of the seed under /data/out (volume enriched-out)"

# Every worker answers /metrics; the stages processed the seed once in all.
total=0
for i in $(seq "$WORKERS"); do
  h=$(compose exec -T --index="$i" worker python -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:6066/health", timeout=5).read().decode())')
  python3 - "$i" "$h" <<'PY'
import json, sys
h = json.loads(sys.argv[2])
names = {m["name"] for m in h["models"]}
assert h["entity_mode"] == "balanced" and "ner_conll_small" in names, f"worker {sys.argv[1]} /health: {h}"
print(f"    worker {sys.argv[1]} /health: mode={h['entity_mode']} models={sorted(names)}", file=sys.stderr)
PY
  m=$(compose exec -T --index="$i" worker python -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:6066/metrics", timeout=5).read().decode())')
  for series in newsflow_processed newsflow_errors newsflow_dead_lettered newsflow_stage_seconds; do
    grep -qE "^# TYPE $series(_total)? " <<<"$m" || { log "worker $i: no $series in /metrics"; exit 1; }
  done
  # A worker that got no partition of newsflow.raw has no sample for stage "clean" yet.
  n=$(awk '/^newsflow_processed_total\{stage="clean"\}/ {s+=$2} END {print s+0}' <<<"$m")
  total=$(python3 -c "print(int($total + $n))")
done
log "/metrics on $WORKERS workers: clean processed $total in all"
[ "$total" -ge 1 ]
gid=${NEWSFLOW_APP_ID:-newsflow}
# The admin call can time out on a busy machine: ask again, and count only member rows of the
# group (an error message must never count as members).
for _ in 1 2 3 4 5; do
  group=$(compose exec -T kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 \
    --describe --group "$gid" --members 2>&1 || true)
  grep -q '^GROUP ' <<<"$group" && break
  sleep 5
done
members=$(awk -v g="$gid" '$1 == g && NF >= 5 {print $2}' <<<"$group" | sort -u | wc -l)
log "consumer group $gid: $members member(s)"
sed 's/^/    /' <<<"$group" >&2
[ "$members" -ge "$WORKERS" ]
log "OK in $(( $(date +%s) - T0 ))s"
