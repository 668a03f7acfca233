#!/usr/bin/env bash
# The high-availability stack (compose.ha.yaml) as a deployment runs it, with locally built images
# substituted by variable: up with two API replicas, a write and a read through the balancer,
# then the primary's container killed (SIGKILL: the node is gone): a standby must be promoted and
# writes come back through HAProxy; the killed node, started again, rejoins as a standby. Then
# `down -v` must leave no container, network or volume behind.
# Usage: bash .ci/smoke-ha.sh STOCKROOM_IMAGE HAPROXY_IMAGE PATRONI_IMAGE
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export STOCKROOM_IMAGE="$1" HAPROXY_IMAGE="$2" PATRONI_IMAGE="$3"
export COMPOSE_PROJECT_NAME="stockroom-ship-ha-$$"
export COMPOSE_FILE=compose.ha.yaml
export STOCKROOM_DB_PASSWORD="app-$RANDOM$RANDOM"
export PATRONI_SUPERUSER_PASSWORD="super-$RANDOM$RANDOM"
export PATRONI_REPLICATION_PASSWORD="repl-$RANDOM$RANDOM"
STOCKROOM_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export STOCKROOM_PORT
BASE="http://127.0.0.1:$STOCKROOM_PORT"
LABEL="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
#: Patroni's ttl (deploy/ha/patroni.yml) plus the time to promote and for HAProxy to see it.
WRITES_BACK_WITHIN=45

log() { echo "[smoke-ha] $*"; }
die() { echo "[smoke-ha] FAIL: $*" >&2; docker-compose logs --tail 30 >&2 || true; exit 1; }
down() { docker-compose down -v --remove-orphans --timeout 30 >/dev/null 2>&1 || true; }
trap down EXIT

# The REST status of one node's Patroni (200 or 503) for a check such as /primary or /replica.
rest() {
    docker-compose exec -T "$1" python3 -c "
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen('http://127.0.0.1:8008$2', timeout=2).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError:
    print(0)" 2>/dev/null || echo 0
}
primary() {
    for node in patroni1 patroni2 patroni3; do
        [ "$(rest "$node" /primary)" = 200 ] && { echo "$node"; return; }
    done
    return 1
}

log "up --scale api=2 (project $COMPOSE_PROJECT_NAME)"
docker-compose up -d --no-build --scale api=2 2>&1 | sed 's/^/    /'
python3 .ci/http_check.py wait-ready "$BASE" 120 || die "the stack did not become ready"
migrate_exit="$(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q migrate)")"
[ "$migrate_exit" -eq 0 ] || die "migrate exited $migrate_exit"
python3 .ci/http_check.py write-read "$BASE" 5
old="$(primary)" || die "no node answers /primary"
log "stack ready; $old is the primary"

log "docker kill $old (the primary's node dies)"
killed_at=$SECONDS
docker-compose kill -s SIGKILL "$old" >/dev/null 2>&1
# Writes through the balancer, each with a fresh Idempotency-Key, until one is acknowledged.
python3 - "$BASE" "$WRITES_BACK_WITHIN" <<'PY' || die "writes did not come back within $WRITES_BACK_WITHIN s"
import json, sys, time, urllib.error, urllib.request, uuid

base, within = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + within
answers: dict[str, int] = {}
while time.monotonic() < deadline:
    body = json.dumps({"sku": f"ha-{uuid.uuid4().hex[:12]}", "name": "HA", "price": "1.00"})
    request = urllib.request.Request(
        f"{base}/v1/items",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status == 201:
                print(f"[smoke-ha] writes back; answers meanwhile: {answers}")
                sys.exit(0)
    except urllib.error.HTTPError as exc:
        answers[str(exc.code)] = answers.get(str(exc.code), 0) + 1
        if exc.code != 503 or not exc.headers.get("Retry-After"):
            sys.exit(f"[smoke-ha] {exc.code} while the primary was gone: {exc.read()[:300]!r}")
    except OSError as exc:
        answers[type(exc).__name__] = answers.get(type(exc).__name__, 0) + 1
    time.sleep(0.5)
sys.exit(f"[smoke-ha] answers: {answers}")
PY
new="$(primary)" || die "no new primary"
[ "$new" != "$old" ] || die "$old is still the primary"
log "$new promoted; writes back $((SECONDS - killed_at)) s after the kill"
python3 .ci/http_check.py write-read "$BASE" 5

log "docker start $old: it must rejoin as a standby"
docker-compose start "$old" >/dev/null 2>&1
waited=0
until [ "$(rest "$old" /replica)" = 200 ]; do
    waited=$((waited + 1))
    [ "$waited" -lt 60 ] || die "$old did not rejoin as a standby within 60 s"
    sleep 1
done
[ "$(primary)" = "$new" ] || die "the primary moved after $old rejoined"
log "$old is a standby of $new"

log "down -v"
docker-compose down -v --remove-orphans --timeout 30 2>&1 | sed 's/^/    /'
left="$(docker ps -aq --filter "$LABEL")$(docker network ls -q --filter "$LABEL")$(docker volume ls -q --filter "$LABEL")"
[ -z "$left" ] || die "left behind after down -v: $left"
log "nothing left behind"
log "OK"
