#!/usr/bin/env bash
# Build the CI PostgreSQL 15 image from Debian packages (no registry needed): a minimal bookworm
# with postgresql-15 and the entrypoint (.ci/postgres-image/), made by build-debian-image.sh.
# Idempotent: does nothing when the image already exists.
# Usage: bash .ci/build-postgres-image.sh [IMAGE]   (default stockroom-postgres:15)
set -euo pipefail

IMAGE="${1:-stockroom-postgres:15}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ROOTFS_HOOK="$HERE/postgres-image/prepare-rootfs.sh" bash "$HERE/build-debian-image.sh" "$IMAGE" postgresql-15 \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    'CMD ["postgres"]' \
    'EXPOSE 5432' \
    'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV PGDATA=/var/lib/postgresql/data'
