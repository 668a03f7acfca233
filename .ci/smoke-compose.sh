#!/usr/bin/env bash
# The compose stack as a deployment runs it, with locally built images substituted by variable:
# up with two API replicas, the smoke test through the load balancer, then `down -v` must leave
# no container, network or volume behind.
# Usage: bash .ci/smoke-compose.sh STOCKROOM_IMAGE POSTGRES_IMAGE PGBOUNCER_IMAGE HAPROXY_IMAGE
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export STOCKROOM_IMAGE="$1" POSTGRES_IMAGE="$2" PGBOUNCER_IMAGE="$3" HAPROXY_IMAGE="$4"
export COMPOSE_PROJECT_NAME="stockroom-ship-compose-$$"
export STOCKROOM_DB_PASSWORD="compose-$RANDOM$RANDOM"
STOCKROOM_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export STOCKROOM_PORT
BASE="http://127.0.0.1:$STOCKROOM_PORT"
LABEL="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"

log() { echo "[smoke-compose] $*"; }
die() { echo "[smoke-compose] FAIL: $*" >&2; docker-compose logs --tail 30 >&2 || true; exit 1; }
down() { docker-compose down -v --remove-orphans --timeout 30 >/dev/null 2>&1 || true; }
trap down EXIT

# A registry mirror for the API image's base must reach `--build` too.
BASE_IMAGE=mirror.example/python:3.11 docker-compose config \
    | grep -q 'BASE_IMAGE: mirror.example/python:3.11' || die "compose does not pass BASE_IMAGE to the build"

log "up --scale api=2 (project $COMPOSE_PROJECT_NAME)"
docker-compose up -d --no-build --scale api=2 2>&1 | sed 's/^/    /'
python3 .ci/http_check.py wait-ready "$BASE" 90 || die "the stack did not become ready"
migrate_exit="$(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q migrate)")"
[ "$migrate_exit" -eq 0 ] || die "migrate exited $migrate_exit"
replicas="$(docker-compose ps -q api | wc -l)"
[ "$replicas" -eq 2 ] || die "expected 2 api replicas, found $replicas"
# The balancer answers once one replica is up; the smoke test wants both serving.
replica_ready() {
    docker exec "$1" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)" >/dev/null 2>&1
}
for id in $(docker-compose ps -q api); do
    waited=0
    until replica_ready "$id"; do
        waited=$((waited + 1))
        [ "$waited" -lt 90 ] || die "replica $id was not ready within 90 s"
        sleep 1
    done
done
sleep 3 # two of the balancer's 1 s health checks (rise 2), so it sends to both
log "migrate exited 0; $replicas api replicas ready behind the balancer"
python3 .ci/http_check.py write-read "$BASE" 20
for id in $(docker-compose ps -q api); do
    served="$(docker logs "$id" 2>&1 | grep -c '"route":"/v1/items' || true)"
    [ "$served" -gt 0 ] || die "replica $id served no request"
done
log "every replica served requests"

log "SIGTERM to the replicas"
docker-compose stop --timeout 30 api >/dev/null 2>&1
for id in $(docker-compose ps -q api); do
    code="$(docker inspect -f '{{.State.ExitCode}}' "$id")"
    [ "$code" -eq 0 ] || die "replica $id exited $code after SIGTERM"
done
log "every replica exited 0"

log "down -v"
docker-compose down -v --remove-orphans --timeout 30 2>&1 | sed 's/^/    /'
left="$(docker ps -aq --filter "$LABEL")$(docker network ls -q --filter "$LABEL")$(docker volume ls -q --filter "$LABEL")"
[ -z "$left" ] || die "left behind after down -v: $left"
log "nothing left behind"
log "OK"
