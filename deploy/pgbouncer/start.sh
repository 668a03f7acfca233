#!/bin/sh
# Start PgBouncer with its user list written from the environment (POSTGRES_USER and
# POSTGRES_PASSWORD), so the password lives in no file of the repository or the image.
set -eu
umask 077
printf '"%s" "%s"\n' "$POSTGRES_USER" "$POSTGRES_PASSWORD" >/tmp/pgbouncer-userlist.txt
exec pgbouncer /etc/stockroom-pgbouncer/pgbouncer.ini
