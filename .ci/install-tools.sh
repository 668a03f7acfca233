#!/usr/bin/env bash
# Host tools the tests drive directly: PgBouncer and the PostgreSQL 15 server binaries (initdb,
# pg_ctl, postgres) for the throwaway clusters the fault tests (tests/faults) stop and start,
# HAProxy for the rolling restart behind a load balancer (tests/faults), Patroni and etcd for
# the primary-failover tests (tests/faults/test_failover.py, which start their own), and
# Chromium for the browser test of /docs (Playwright drives Debian's, never a downloaded one).
# Idempotent: installs only what is missing. Debian bookworm packages.
set -euo pipefail

log() { echo "[install-tools] $*"; }

have_postgres() {
    command -v initdb >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/initdb ]
}

missing=()
command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
have_postgres || missing+=(postgresql-15)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v patroni >/dev/null 2>&1 || missing+=(patroni)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)

if [ "${#missing[@]}" -eq 0 ]; then
    log "pgbouncer, haproxy, PostgreSQL 15, chromium, patroni and etcd already installed"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
    # The tests make their own clusters: no main cluster, nothing listening on 5432.
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
fi

log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not wanted (the tests start each of these themselves): stopped
# now and kept from starting at boot. etcd's would also hold the default client port 2379.
for package in pgbouncer haproxy patroni etcd-server; do
    [[ " ${missing[*]} " == *" $package "* ]] || continue
    daemon="${package%-server}"
    if command -v service >/dev/null 2>&1; then
        $SUDO service "$daemon" stop >/dev/null 2>&1 || true
    fi
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now "$daemon" >/dev/null 2>&1 || true
    fi
done
command -v pgbouncer >/dev/null 2>&1 || { echo "[install-tools] ERROR: pgbouncer not on PATH" >&2; exit 1; }
have_postgres || { echo "[install-tools] ERROR: PostgreSQL 15 binaries missing" >&2; exit 1; }
command -v chromium >/dev/null 2>&1 || { echo "[install-tools] ERROR: chromium not on PATH" >&2; exit 1; }
command -v haproxy >/dev/null 2>&1 || { echo "[install-tools] ERROR: haproxy not on PATH" >&2; exit 1; }
command -v patroni >/dev/null 2>&1 || { echo "[install-tools] ERROR: patroni not on PATH" >&2; exit 1; }
command -v etcd >/dev/null 2>&1 || { echo "[install-tools] ERROR: etcd not on PATH" >&2; exit 1; }
log "done: $(pgbouncer --version | head -n 1)"
