"""PostgreSQL for the HTTP benchmark: a throwaway cluster, the seed, and statement counts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import asyncpg

#: Settings of the throwaway cluster, reported with the results. Durability stays on (fsync,
#: synchronous_commit and full_page_writes at their defaults): every write commit waits for
#: its WAL flush, as in production.
CLUSTER_SETTINGS: Final = {
    "listen_addresses": "'127.0.0.1'",
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
class Cluster:
    url: str  # postgresql+asyncpg://…/bench
    description: str
    datadir: Path | None = None

    def postmaster_pid(self) -> int | None:
        """The cluster's postmaster (None for an external database or a stopped cluster)."""
        if self.datadir is None:
            return None
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(
            f"{tool} is not on PATH: install PostgreSQL 15 (Debian: apt-get install -y "
            "postgresql-15) or set BENCH_DATABASE_URL to a throwaway database"
        )
    return path


@contextmanager
def throwaway_cluster(workdir: Path, *, cpu: str) -> Iterator[Cluster]:
    """initdb + pg_ctl start in `workdir` (as the postgres user when we are root), pinned to `cpu`.

    The cluster is stopped (and, failing that, killed) on the way out, whatever happened.
    """
    initdb, pg_ctl = _require("initdb"), _require("pg_ctl")
    root = workdir / "pg"
    datadir, sockets = root / "data", root / "sockets"
    root.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        workdir.chmod(0o755)  # the postgres user must be able to reach its directory
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    subprocess.run(
        _as_postgres(
            [
                initdb,
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port = free_port()
    settings = {**CLUSTER_SETTINGS, "port": str(port), "unix_socket_directories": f"'{sockets}'"}
    with (datadir / "postgresql.conf").open("a") as conf:
        conf.write("\n# stockroom HTTP benchmark\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    log = root / "postgres.log"
    start = ["taskset", "-c", cpu, pg_ctl, "-D", str(datadir), "-l", str(log), "-w", "-t", "60"]
    started = False
    try:
        subprocess.run(_as_postgres([*start, "start"]), check=True, stdout=subprocess.DEVNULL)
        started = True
        asyncio.run(_create_database(f"postgresql://postgres@127.0.0.1:{port}/postgres"))
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{DATABASE}"
        description = f"throwaway PostgreSQL cluster on 127.0.0.1:{port}, CPU {cpu}"
        yield Cluster(url=url, description=description, datadir=datadir)
    except subprocess.CalledProcessError:
        if log.exists():
            print(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        if started:
            _stop(pg_ctl, datadir)


def _stop(pg_ctl: str, datadir: Path) -> None:
    stopped = subprocess.run(
        _as_postgres([pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "-t", "30", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = datadir / "postmaster.pid"
    if stopped.returncode != 0 and pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def _create_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()


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
