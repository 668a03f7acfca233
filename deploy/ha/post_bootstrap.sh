#!/bin/sh
# Run once by Patroni on the node that bootstraps the cluster, with a superuser connection
# string as $1: the application's role (password from STOCKROOM_DB_PASSWORD) and its database.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -q -v password="$STOCKROOM_DB_PASSWORD" <<'SQL'
CREATE ROLE stockroom LOGIN PASSWORD :'password';
CREATE DATABASE stockroom OWNER stockroom;
SQL
