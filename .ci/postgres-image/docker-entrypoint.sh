#!/bin/bash
# Entrypoint of the CI PostgreSQL 15 image (built from Debian packages by
# .ci/build-postgres-image.sh). Behaves like the official postgres image for the
# parts the test suite and testcontainers use:
#   POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres),
#   POSTGRES_DB (default = user), PGDATA (default /var/lib/postgresql/data),
#   POSTGRES_INITDB_ARGS (extra initdb args), /docker-entrypoint-initdb.d/*.sql|*.sh,
#   `docker run IMAGE -c fsync=off ...` (args starting with '-' go to postgres).
# Initialisation runs against a unix-socket-only temporary server whose log goes
# to a file, so nothing listens on TCP (and "ready to accept connections" is not
# printed on stdout) until the real server starts.
set -Eeo pipefail

PGBIN=/usr/lib/postgresql/15/bin
case ":$PATH:" in *":$PGBIN:"*) ;; *) export PATH="$PGBIN:$PATH" ;; esac
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export LANG="${LANG:-C.UTF-8}"
SOCKDIR=/var/run/postgresql

log() { echo "entrypoint: $*"; }
die() { echo "entrypoint: error: $*" >&2; exit 1; }

# `docker run IMAGE -c fsync=off` -> postgres -c fsync=off
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi

# Anything but the server (e.g. `docker run -it IMAGE bash`) runs as given.
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" "$SOCKDIR"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    chown postgres:postgres "$SOCKDIR"
    chmod 2775 "$SOCKDIR"
    # Re-run this script as the postgres OS user (setpriv execs, no extra process).
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

shift # drop "postgres"; what is left are server options

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    [ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set; it is required (e.g. -e POSTGRES_PASSWORD=secret)"
    POSTGRES_USER="${POSTGRES_USER:-postgres}"
    POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

    log "initdb into $PGDATA (superuser $POSTGRES_USER)"
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is split on purpose, like the official image
    initdb -D "$PGDATA" --username="$POSTGRES_USER" \
        --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-host=scram-sha-256 --auth-local=trust \
        --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-} >/dev/null

    {
        echo
        echo 'host all all 0.0.0.0/0 scram-sha-256'
        echo 'host all all ::/0 scram-sha-256'
    } >>"$PGDATA/pg_hba.conf"

    # Temporary server: unix socket only, log to a file.
    initlog="$(mktemp /tmp/postgres-init.XXXXXX.log)"
    pg_ctl -D "$PGDATA" -w -t 60 -l "$initlog" \
        -o "-c listen_addresses='' -c unix_socket_directories='$SOCKDIR' -p 5432" start >/dev/null \
        || { cat "$initlog" >&2; die "temporary server did not start"; }

    psql_init=(psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --host "$SOCKDIR" --port 5432 --username "$POSTGRES_USER")

    if [ "$POSTGRES_DB" != postgres ]; then
        log "creating database $POSTGRES_DB"
        "${psql_init[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<<'CREATE DATABASE :"db";'
    fi

    if [ -d /docker-entrypoint-initdb.d ]; then
        for f in /docker-entrypoint-initdb.d/*; do
            case "$f" in
                *.sh) log "running $f"; PGHOST="$SOCKDIR" PGPORT=5432 PGUSER="$POSTGRES_USER" PGDATABASE="$POSTGRES_DB" bash "$f" ;;
                *.sql) log "running $f"; "${psql_init[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
                *.sql.gz) log "running $f"; gzip -dc "$f" | "${psql_init[@]}" --dbname "$POSTGRES_DB" ;;
                *) ;;
            esac
        done
    fi

    pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null \
        || { cat "$initlog" >&2; die "temporary server did not stop"; }
    rm -f "$initlog"
    log "init complete; starting server"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
