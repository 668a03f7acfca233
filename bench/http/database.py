"""PostgreSQL for the HTTP benchmark: a throwaway cluster, the seed, and statement counts."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from tests.support.cluster import Cluster, throwaway_cluster

#: Settings of the throwaway cluster, reported with the results. Durability stays on (fsync,
#: synchronous_commit and full_page_writes at their defaults): every write commit waits for
#: its WAL flush, as in production.
CLUSTER_SETTINGS: Final = {
    "max_connections": "100",
    "shared_buffers": "'1GB'",
    "effective_cache_size": "'4GB'",
    "work_mem": "'16MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "'all'",
    "pg_stat_statements.track_utility": "on",
    "log_min_messages": "'warning'",
}
#: Settings worth printing next to the results (the rest are PostgreSQL's defaults).
REPORTED_SETTINGS: Final = (
    "server_version",
    "shared_buffers",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "max_connections",
    "jit",
)
DATABASE: Final = "bench"


def libpq_url(url: str) -> str:
    """asyncpg wants postgresql://; the service wants postgresql+asyncpg://."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def service_url(url: str) -> str:
    if url.startswith("postgresql+asyncpg://"):
        return url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise SystemExit("BENCH_DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")


@dataclass
class Database:
    url: str  # postgresql+asyncpg://…
    description: str
    cluster: Cluster | None = None  # None: BENCH_DATABASE_URL's

    def postmaster_pid(self) -> int | None:
        """The cluster's postmaster (None for an external database or a stopped cluster)."""
        return self.cluster.postmaster_pid() if self.cluster is not None else None


@contextmanager
def throwaway_database(*, cpu: str) -> Iterator[Database]:
    """A database on a throwaway cluster pinned to `cpu`, stopped and removed on the way out."""
    with throwaway_cluster("stockroom-bench-", settings=CLUSTER_SETTINGS, cpu=cpu) as cluster:
        yield Database(
            url=cluster.url(cluster.create_database(DATABASE)),
            description=f"throwaway PostgreSQL cluster on 127.0.0.1:{cluster.port}, CPU {cpu}",
            cluster=cluster,
        )


async def _connect(url: str) -> Any:
    return await asyncpg.connect(libpq_url(url))


async def prepare_external(url: str) -> None:
    """BENCH_DATABASE_URL is a throwaway database: its items are removed before seeding."""
    conn = await _connect(url)
    try:
        await conn.execute("TRUNCATE items")
    finally:
        await conn.close()


async def server_settings(url: str) -> dict[str, str]:
    conn = await _connect(url)
    try:
        rows = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
            list(REPORTED_SETTINGS),
        )
        values = {r["name"]: f"{r['setting']}{_unit(r['unit'])}" for r in rows}
        values["server_version"] = str(await conn.fetchval("SHOW server_version"))
        values["shared_buffers"] = str(await conn.fetchval("SHOW shared_buffers"))
        return values
    finally:
        await conn.close()


def _unit(unit: str | None) -> str:
    return "" if unit is None else f" ({unit})"


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
class Seed:
    rows: int
    seconds: float
    ids: list[str]
    #: (created_at, id) of the row after which the deep page starts, and its position.
    deep_after: tuple[datetime, UUID]
    deep_row: int


async def seed(url: str, rows: int, *, sample: int = 20000, chunk: int = 250_000) -> Seed:
    loop = asyncio.get_running_loop()
    started = loop.time()
    conn = await _connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")  # the seed only, not the benchmark
        for first in range(1, rows + 1, chunk):
            await conn.execute(SEED_SQL, first, min(first + chunk - 1, rows))
        await conn.execute("VACUUM (ANALYZE) items")
        seconds = loop.time() - started
        ids = await conn.fetch("SELECT id::text FROM items ORDER BY random() LIMIT $1", sample)
        deep_row = max(rows - 100, 1)
        deep = await conn.fetchrow(
            "SELECT created_at, id FROM items ORDER BY created_at, id OFFSET $1 LIMIT 1",
            deep_row - 1,
        )
        assert deep is not None
        return Seed(
            rows=rows,
            seconds=seconds,
            ids=[r[0] for r in ids],
            deep_after=(deep["created_at"], UUID(str(deep["id"]))),
            deep_row=deep_row,
        )
    finally:
        await conn.close()


async def enable_statement_stats(url: str) -> str | None:
    """None when pg_stat_statements is usable, else why not."""
    conn = await _connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
    except asyncpg.PostgresError as exc:
        return (
            f"pg_stat_statements unavailable ({type(exc).__name__}): "
            "add it to shared_preload_libraries"
        )
    finally:
        await conn.close()
    return None


class StatementCounter:
    """Counts the statements the servers send, by kind, between `reset()` and `read()`.

    One observer connection is kept open; its own statements name pg_stat_statements and are
    left out of the counts.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None

    async def __aenter__(self) -> StatementCounter:
        self._conn = await _connect(self._url)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._conn.close()

    async def reset(self) -> None:
        await self._conn.execute("SELECT pg_stat_statements_reset()")

    async def read(self) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT ILIKE '%pg_stat_statements%'"
        )
        counts: dict[str, int] = {}
        for row in rows:
            kind = _kind(row["query"])
            counts[kind] = counts.get(kind, 0) + int(row["calls"])
        return counts

    async def queries(self) -> list[tuple[str, int]]:
        rows = await self._conn.fetch(
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC"
        )
        return [(str(r["query"]), int(r["calls"])) for r in rows]


def _kind(query: str) -> str:
    words = query.strip().split(None, 1)
    return words[0].rstrip(";").upper() if words else "?"


PAGE_SQL: Final = (
    "SELECT id, sku, name, description, price, quantity, version, created_at, updated_at "
    "FROM items {where} ORDER BY created_at, id LIMIT 51"
)


async def page_execution_ms(
    url: str, after: tuple[datetime, UUID], *, repeat: int = 25
) -> tuple[float, float]:
    """PostgreSQL's own execution time (EXPLAIN ANALYZE, median) of the first and a deep page.

    Independent of the HTTP servers and of the CPU other processes take: the database side of
    "a page costs the same at row 10 and at row 1,000,000".
    """
    conn = await _connect(url)
    try:

        async def median_ms(sql: str, *args: object) -> float:
            times = []
            for _ in range(repeat):
                plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
                data = json.loads(plan) if isinstance(plan, str) else plan
                times.append(float(data[0]["Execution Time"]))
            return statistics.median(times)

        first = await median_ms(PAGE_SQL.format(where=""))
        deep = await median_ms(PAGE_SQL.format(where="WHERE (created_at, id) > ($1, $2)"), *after)
        return first, deep
    finally:
        await conn.close()


class SessionCounter:
    """PostgreSQL sessions ever opened on the database (pg_stat_database.sessions, PG ≥ 14):
    the delta over a run is how many connections the server under test opened meanwhile."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None

    async def count(self) -> int:
        if self._conn is None:
            self._conn = await _connect(self._url)
        await self._conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await self._conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(value or 0)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
