#!/usr/bin/env bash
# Build a minimal Debian bookworm image from Debian packages (no registry needed): debootstrap
# the packages, shrink the tree, `docker import` it with the given Dockerfile instructions.
# Idempotent: does nothing when the image already exists.
# Usage: bash .ci/build-debian-image.sh IMAGE PACKAGES [DOCKERFILE-INSTRUCTION...]
#   e.g. build-debian-image.sh stockroom-python:3.11-bookworm python3,python3-pip 'CMD ["python3"]'
# With ROOTFS_HOOK=SCRIPT in the environment, `bash SCRIPT ROOTFS` runs on the tree before the
# import (to add files or remove what the image does not need).
set -euo pipefail

IMAGE="$1"
PACKAGES="$2"
shift 2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "[build-debian-image $IMAGE] $*"; }
die() { echo "[build-debian-image $IMAGE] ERROR: $*" >&2; exit 1; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "already present"
    exit 0
fi
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (run .ci/start-docker.sh)"

# shellcheck source=debian-mirror.sh
. "$HERE/debian-mirror.sh"
MIRROR="$(find_mirror)"
[ -n "$MIRROR" ] || die "no bookworm mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"

WORK="$(mktemp -d /tmp/debian-rootfs.XXXXXX)"
ROOTFS="$WORK/rootfs"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

log "debootstrap bookworm + $PACKAGES from $MIRROR"
start=$SECONDS
# Downloaded packages are kept between runs: every image built here shares the base system's.
CACHE=/var/cache/stockroom-ci-debootstrap
mkdir -p "$CACHE"
if ! debootstrap --variant=minbase --cache-dir="$CACHE" --include="$PACKAGES" \
    bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 40 "$WORK/debootstrap.log" >&2
    [ -f "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
log "debootstrap done in $((SECONDS - start)) s"

# The image trusts what this machine trusts (its bundle may hold a proxy's certificate authority).
if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ -d "$ROOTFS/etc/ssl/certs" ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
# Shrink: apt caches and lists, docs, man pages, non-English messages.
rm -rf "$ROOTFS/var/cache/apt/"* "$ROOTFS/var/lib/apt/lists/"* \
    "$ROOTFS/usr/share/doc/"* "$ROOTFS/usr/share/man/"* "$ROOTFS/usr/share/info/"* \
    "$ROOTFS/var/log/"*.log "$ROOTFS/debootstrap"
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'en*' ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true

if [ -n "${ROOTFS_HOOK:-}" ]; then
    bash "$ROOTFS_HOOK" "$ROOTFS" || die "$ROOTFS_HOOK failed"
fi

changes=()
for instruction in "$@"; do
    changes+=(-c "$instruction")
done
log "importing rootfs ($(du -sh "$ROOTFS" | cut -f1))"
tar -C "$ROOTFS" --numeric-owner -c . | docker import "${changes[@]}" \
    -c 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image not found after import"
log "built in $((SECONDS - start)) s"
