#!/usr/bin/env bash
# The PostgreSQL test image's part of .ci/build-debian-image.sh: the entrypoint in, the cluster
# the package's postinst created out (the entrypoint makes its own), and LLVM out.
# Usage: bash prepare-rootfs.sh ROOTFS
set -euo pipefail

ROOTFS="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

[ -x "$ROOTFS/usr/lib/postgresql/15/bin/postgres" ] || { echo "postgres binary missing from rootfs" >&2; exit 1; }
install -m 0755 "$HERE/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
rm -rf "$ROOTFS/var/lib/postgresql/15" "$ROOTFS/etc/postgresql/15"
# LLVM (JIT support, ~130 MB with z3) is only loaded when jit=on; without llvmjit.so the server
# just runs with JIT unavailable, which is fine for tests.
rm -rf "$ROOTFS/usr/lib/postgresql/15/lib/llvmjit"* "$ROOTFS/usr/lib/postgresql/15/lib/bitcode" \
    "$ROOTFS/usr/lib/x86_64-linux-gnu/"libLLVM-* "$ROOTFS/usr/lib/x86_64-linux-gnu/"libz3.so*
find "$ROOTFS/usr/share/postgresql/15" -maxdepth 1 -name man -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$ROOTFS/var/run/postgresql" "$ROOTFS/var/lib/postgresql"
chroot "$ROOTFS" chown postgres:postgres /var/run/postgresql /var/lib/postgresql
