#!/usr/bin/env bash
# Build the CI PostgreSQL 15 image from Debian packages (no registry needed):
# debootstrap a minimal bookworm with postgresql-15, add the entrypoint, and
# `docker import` it. Idempotent: does nothing when the image already exists.
# Usage: bash .ci/build-postgres-image.sh [IMAGE]   (default stockroom-postgres:15)
set -euo pipefail

IMAGE="${1:-stockroom-postgres:15}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENTRYPOINT_SRC="$HERE/postgres-image/docker-entrypoint.sh"

log() { echo "[build-postgres-image] $*"; }
die() { echo "[build-postgres-image] ERROR: $*" >&2; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE already present"
    exit 0
fi

[ -f "$ENTRYPOINT_SRC" ] || die "missing $ENTRYPOINT_SRC"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (run .ci/start-docker.sh)"

# shellcheck source=debian-mirror.sh
. "$HERE/debian-mirror.sh"
MIRROR="$(find_mirror)"
[ -n "$MIRROR" ] || die "no bookworm mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"

WORK="$(mktemp -d /tmp/pg-rootfs.XXXXXX)"
ROOTFS="$WORK/rootfs"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

log "debootstrap bookworm + postgresql-15 from $MIRROR (about a minute)"
start=$SECONDS
# Downloaded packages are kept between runs, shared with .ci/build-debian-image.sh.
CACHE=/var/cache/stockroom-ci-debootstrap
mkdir -p "$CACHE"
if ! debootstrap --variant=minbase --cache-dir="$CACHE" --include=postgresql-15 bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 40 "$WORK/debootstrap.log" >&2
    [ -f "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
log "debootstrap done in $((SECONDS - start)) s"

[ -x "$ROOTFS/usr/lib/postgresql/15/bin/postgres" ] || die "postgres binary missing from rootfs"

install -m 0755 "$ENTRYPOINT_SRC" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"

# Shrink: the cluster the package's postinst created (the entrypoint makes its
# own), apt caches and lists, docs, man pages, non-English messages.
rm -rf "$ROOTFS/var/lib/postgresql/15" "$ROOTFS/etc/postgresql/15" \
    "$ROOTFS/var/cache/apt/"* "$ROOTFS/var/lib/apt/lists/"* \
    "$ROOTFS/usr/share/doc/"* "$ROOTFS/usr/share/man/"* "$ROOTFS/usr/share/info/"* \
    "$ROOTFS/var/log/"*.log "$ROOTFS/debootstrap"
# LLVM (JIT support, ~130 MB with z3) is only loaded when jit=on; without
# llvmjit.so the server just runs with JIT unavailable, which is fine for tests.
rm -rf "$ROOTFS/usr/lib/postgresql/15/lib/llvmjit"* "$ROOTFS/usr/lib/postgresql/15/lib/bitcode" \
    "$ROOTFS/usr/lib/x86_64-linux-gnu/"libLLVM-* "$ROOTFS/usr/lib/x86_64-linux-gnu/"libz3.so*
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
find "$ROOTFS/usr/share/postgresql/15" -maxdepth 1 -name man -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$ROOTFS/var/run/postgresql" "$ROOTFS/var/lib/postgresql"
chroot "$ROOTFS" chown postgres:postgres /var/run/postgresql /var/lib/postgresql

log "importing rootfs ($(du -sh "$ROOTFS" | cut -f1)) as $IMAGE"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    -c 'CMD ["postgres"]' \
    -c 'EXPOSE 5432' \
    -c 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c 'ENV LANG=C.UTF-8' \
    - "$IMAGE" >/dev/null

docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE not found after import"
log "built $IMAGE in $((SECONDS - start)) s"
