#!/usr/bin/env bash
# Host tools the tests drive directly: PgBouncer and the PostgreSQL 15 server binaries (initdb,
# pg_ctl, postgres) for the throwaway clusters the fault tests (tests/faults) stop and start,
# HAProxy for the rolling restart behind a load balancer (tests/faults), and
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

if [ "${#missing[@]}" -eq 0 ]; then
    log "pgbouncer, haproxy, PostgreSQL 15 and chromium already installed"
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
# The packages' own services are not wanted (the tests start pgbouncer and haproxy themselves).
for daemon in pgbouncer haproxy; do
    if [[ " ${missing[*]} " == *" $daemon "* ]] && command -v service >/dev/null 2>&1; then
        $SUDO service "$daemon" stop >/dev/null 2>&1 || true
    fi
done
command -v pgbouncer >/dev/null 2>&1 || { echo "[install-tools] ERROR: pgbouncer not on PATH" >&2; exit 1; }
have_postgres || { echo "[install-tools] ERROR: PostgreSQL 15 binaries missing" >&2; exit 1; }
command -v chromium >/dev/null 2>&1 || { echo "[install-tools] ERROR: chromium not on PATH" >&2; exit 1; }
command -v haproxy >/dev/null 2>&1 || { echo "[install-tools] ERROR: haproxy not on PATH" >&2; exit 1; }
log "done: $(pgbouncer --version | head -n 1)"
