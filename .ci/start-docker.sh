#!/usr/bin/env bash
# Make sure a Docker engine is answering on this machine.
# Idempotent: exits at once when `docker info` already works; otherwise installs
# Debian's docker.io (and debootstrap, needed to build the test image), starts
# dockerd in the background (log: /tmp/dockerd.log) and waits for it.
set -euo pipefail

log() { echo "[start-docker] $*"; }

if docker info >/dev/null 2>&1; then
    log "docker engine already running"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    log "ERROR: must run as root to install/start dockerd" >&2
    exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap debian-archive-keyring)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/start-docker-apt.log 2>&1 || {
        tail -n 30 /tmp/start-docker-apt.log >&2
        log "ERROR: apt-get install ${missing[*]} failed" >&2
        exit 1
    }
fi

# A stale pid file from a dead daemon blocks a new start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

if [ ! -f /var/run/docker.pid ]; then
    log "starting dockerd (log: /tmp/dockerd.log)"
    nohup dockerd >/tmp/dockerd.log 2>&1 </dev/null &
    disown || true
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        log "docker engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    sleep 1
done

log "ERROR: docker engine did not answer within 60 s; last lines of /tmp/dockerd.log:" >&2
tail -n 30 /tmp/dockerd.log >&2 || true
exit 1
