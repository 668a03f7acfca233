#!/usr/bin/env bash
# The production path, proven: build a Python base image offline (debootstrap, like the
# PostgreSQL test image), the Stockroom image on it, PgBouncer, HAProxy and Patroni images for the
# compose stacks, then smoke-test the image alone, the whole stack, and the high-availability
# stack losing its primary. Prints each phase's time.
# Idempotent: the bases are built once per machine; Docker's layer cache makes the rest quick.
# Usage: bash .ci/ship.sh [POSTGRES_IMAGE]   (default stockroom-postgres:15, built by .ci/run)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PG_IMAGE="${1:-stockroom-postgres:15}"
PYTHON_BASE=stockroom-python:3.11-bookworm
IMAGE=stockroom:ci
PGBOUNCER_IMAGE=stockroom-pgbouncer:ci
HAPROXY_IMAGE=stockroom-haproxy:ci
PATRONI_IMAGE=stockroom-patroni:ci

phase_start=$SECONDS
phase_name=""
phase() {
    [ -z "$phase_name" ] || echo "==> $phase_name: $((SECONDS - phase_start)) s"
    phase_name="$*"
    phase_start=$SECONDS
    [ -z "$phase_name" ] || echo "==> $phase_name"
}
quiet_build() { # docker build, its output shown only when it fails
    local out
    out="$(docker build "$@" 2>&1)" || { printf '%s\n' "$out" | tail -n 40 >&2; return 1; }
}

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "installing Debian's docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }
fi

phase "Python base image $PYTHON_BASE (Debian bookworm's python3)"
bash .ci/build-debian-image.sh "$PYTHON_BASE" python3,python3-pip,ca-certificates 'CMD ["python3"]'

phase "Stockroom image $IMAGE on $PYTHON_BASE"
quiet_build --build-arg BASE_IMAGE="$PYTHON_BASE" -t "$IMAGE" .
base_size="$(docker image inspect -f '{{.Size}}' "$PYTHON_BASE")"
size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
echo "image $IMAGE: $((size / 1000000)) MB, $(((size - base_size) / 1000000)) MB over the base"

phase "PgBouncer, HAProxy and Patroni images (Debian packages on the same base)"
quiet_build --build-arg BASE_IMAGE="$PYTHON_BASE" -t "$PGBOUNCER_IMAGE" .ci/images/pgbouncer
quiet_build --build-arg BASE_IMAGE="$PYTHON_BASE" -t "$HAPROXY_IMAGE" .ci/images/haproxy
quiet_build --build-arg BASE_IMAGE="$PYTHON_BASE" -t "$PATRONI_IMAGE" .ci/images/patroni

phase "image smoke test against $PG_IMAGE"
bash .ci/smoke-image.sh "$IMAGE" "$PG_IMAGE"

phase "compose stack (docker-compose $(docker-compose version --short)), --scale api=2"
bash .ci/smoke-compose.sh "$IMAGE" "$PG_IMAGE" "$PGBOUNCER_IMAGE" "$HAPROXY_IMAGE"

phase "high-availability stack (three Patroni nodes, etcd, HAProxy): the primary killed"
bash .ci/smoke-ha.sh "$IMAGE" "$HAPROXY_IMAGE" "$PATRONI_IMAGE"

phase ""
