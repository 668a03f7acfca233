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

# Is PID a live (not zombie) dockerd?
alive_dockerd() {
    local pid="$1" state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
    state="$(sed -e 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)"
    [ "$state" != Z ] && [ "$state" != X ]
}

start_dockerd() {
    # A pid file left by a dead daemon makes the new one refuse to start.
    rm -f /var/run/docker.pid
    log "starting dockerd (log: /tmp/dockerd.log)"
    nohup dockerd >>/tmp/dockerd.log 2>&1 </dev/null &
    started_pid=$!
    starts=$((starts + 1))
}

started_pid=""
starts=0
existing_pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
if ! alive_dockerd "$existing_pid"; then
    existing_pid=""
    start_dockerd
else
    log "dockerd (pid $existing_pid) is running; waiting for it to answer"
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        log "docker engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    # The daemon we wait for died (e.g. an old one was still shutting down and
    # held the pid file or socket): start a fresh one, at most twice in all.
    if ! alive_dockerd "$existing_pid" && ! alive_dockerd "$started_pid"; then
        existing_pid=""
        if [ "$starts" -ge 2 ]; then
            break
        fi
        start_dockerd
    fi
    sleep 1
done

log "ERROR: docker engine did not answer within 60 s (see /tmp/dockerd.log); last lines of /tmp/dockerd.log:" >&2
tail -n 30 /tmp/dockerd.log >&2 || true
exit 1
