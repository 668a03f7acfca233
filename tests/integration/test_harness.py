"""The harness's own promise: emptying the tables after a test never stalls the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from tests.postgres import Tables


async def _blocks_someone(observer: psycopg.AsyncConnection[Any], pid: int) -> bool:
    cursor = await observer.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)
    )
    row = await cursor.fetchone()
    return row is not None and row[0] > 0


async def test_emptying_the_tables_lets_work_in_flight_on_the_loop_finish(
    database_dsn: str,
) -> None:
    """A transaction in flight on the tests' loop (once: the app's idempotency purge) holds a
    lock the TRUNCATE needs, and commits only once the TRUNCATE waits for it. A TRUNCATE that
    blocked the thread would stop the loop, so that the lock could never be released."""
    async with (
        await psycopg.AsyncConnection.connect(database_dsn) as holder,
        await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as observer,
    ):
        await holder.execute("DELETE FROM idempotency_keys")  # ROW EXCLUSIVE until it commits

        async def commit_once_the_truncate_waits() -> None:
            while True:  # polled: PostgreSQL does not announce that a lock wait began
                if await _blocks_someone(observer, holder.info.backend_pid):
                    await holder.commit()
                    return
                await asyncio.sleep(0.01)

        tables = Tables(database_dsn)
        try:
            async with asyncio.timeout(60), asyncio.TaskGroup() as tasks:
                tasks.create_task(commit_once_the_truncate_waits())
                await tables.empty()
        finally:
            await tables.close()
