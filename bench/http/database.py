"""PostgreSQL for the benchmarks: a throwaway cluster and the seeded items."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from tests.support.cluster import Cluster, throwaway_cluster

#: Durability stays at PostgreSQL's defaults: every write commit waits for its WAL flush.
CLUSTER_SETTINGS: Final = {
    "max_connections": "100",
    "shared_buffers": "'1GB'",
    "effective_cache_size": "'4GB'",
    "work_mem": "'16MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "log_min_messages": "'warning'",
}

SEED_SQL: Final = """
INSERT INTO items (id, sku, name, description, price, quantity, version, created_at, updated_at)
SELECT gen_random_uuid(),
       'SEED-' || lpad(g::text, 8, '0'),
       'Seeded item ' || g,
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'Description of seeded item number ' || g END,
       ((g::bigint * 7919) % 1000000) / 100.0,
       1000 + g % 1000,
       1,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second',
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series($1::int, $2::int) AS g
"""


@dataclass(frozen=True)
class Database:
    url: str  # postgresql+asyncpg://…
    cluster: Cluster


@contextmanager
def throwaway_database(*, cpu: str) -> Iterator[Database]:
    with throwaway_cluster("stockroom-bench-", settings=CLUSTER_SETTINGS, cpu=cpu) as cluster:
        yield Database(url=cluster.url(cluster.create_database("bench")), cluster=cluster)


@dataclass(frozen=True)
class Seed:
    seconds: float
    ids: list[str]  # a random sample of the seeded ids
    deep_after: tuple[datetime, UUID]  # the row after which the deep page starts


async def seed(url: str, rows: int, *, sample: int = 20000, chunk: int = 250_000) -> Seed:
    started = time.monotonic()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute("SET synchronous_commit = off")  # the seed only, not the benchmark
        for first in range(1, rows + 1, chunk):
            await conn.execute(SEED_SQL, first, min(first + chunk - 1, rows))
        await conn.execute("VACUUM (ANALYZE) items")
        seconds = time.monotonic() - started
        ids = await conn.fetch("SELECT id::text FROM items ORDER BY random() LIMIT $1", sample)
        deep = await conn.fetchrow(
            "SELECT created_at, id FROM items ORDER BY created_at, id OFFSET $1 LIMIT 1",
            max(rows - 101, 0),
        )
        assert deep is not None
        return Seed(seconds, [r[0] for r in ids], (deep["created_at"], UUID(str(deep["id"]))))
    finally:
        await conn.close()
