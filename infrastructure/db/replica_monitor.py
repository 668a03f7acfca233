"""The standbys' monitor: polls each standby's replay position, and the primary's WAL position.

Sampling the primary on the same tick measures lag against the primary, not against the last
replayed transaction's time, which grows on a primary that writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import asyncpg

from infrastructure.db.dsn import asyncpg_dsn
from infrastructure.db.errors import AUTHENTICATION_FAILED, UNREACHABLE, unavailability
from infrastructure.db.replicas import CURRENT_LSN_SQL, Replica, ReplicaSet

#: How often each standby (and the primary's WAL position) is polled.
POLL_INTERVAL: Final = 0.5
#: A poll that takes longer marks the standby silent.
POLL_TIMEOUT: Final = 0.5

_REPLAY_SQL: Final = "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0')::bigint"


async def watch(replicas: ReplicaSet, primary_url: str) -> None:
    """Poll the primary's WAL position and every standby's replay position, forever."""
    primary = _Poller(asyncpg_dsn(primary_url))
    pollers = [(replica, _Poller(asyncpg_dsn(replica.url))) for replica in replicas.replicas]
    try:
        while True:
            started = time.monotonic()
            row = await primary.fetchrow(CURRENT_LSN_SQL)
            if row is not None:
                replicas.sampled_primary(row[0])
            await asyncio.gather(*(_poll(replicas, *pair) for pair in pollers))
            await asyncio.sleep(max(0.0, POLL_INTERVAL - (time.monotonic() - started)))
    finally:
        for poller in (primary, *(poller for _, poller in pollers)):
            poller.close()


async def _poll(replicas: ReplicaSet, replica: Replica, poller: _Poller) -> None:
    row = await poller.fetchrow(_REPLAY_SQL)
    now = time.monotonic()
    if row is None:
        replicas.take_out(replica, poller.problem)
        return
    in_recovery, replayed = row
    replica.in_recovery = bool(in_recovery)
    if not replica.in_recovery or replayed is None:
        # Promoted, or not a standby at all: its data may diverge from the primary's.
        replicas.take_out(replica, "not a standby in recovery")
        return
    replica.replayed = max(replica.replayed, replayed)
    replica.lag = replicas.lag(replica.replayed, now)
    replica.checked_at = now
    replicas.put_back(replica)


class _Poller:
    """One connection that answers within POLL_TIMEOUT or is dropped and opened again."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._connection: Any = None
        self.problem = ""

    async def fetchrow(self, sql: str) -> Sequence[Any] | None:
        try:
            async with asyncio.timeout(POLL_TIMEOUT):
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(
                        self._dsn,
                        # Through PgBouncer's transaction pooling too: no prepared statements.
                        statement_cache_size=0,
                        server_settings={"application_name": "stockroom-monitor"},
                    )
                row: Sequence[Any] = await self._connection.fetchrow(sql)
                return row
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            self.problem = _problem(error)
            self.close()
            return None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()


def _problem(error: Exception) -> str:
    """Why a poll failed, as the primary's readiness says it."""
    if isinstance(error, TimeoutError):
        return "silent"
    reason = unavailability(error)
    if reason == AUTHENTICATION_FAILED:
        return "authentication failed"
    if reason is None or reason == UNREACHABLE:
        return "unreachable"
    return reason.removeprefix("the ")


async def replicas_lifecycle(replicas: ReplicaSet, primary_url: str) -> AsyncIterator[ReplicaSet]:
    """Monitor the standbys while the container lives; close their pools at shutdown."""
    monitor = asyncio.create_task(watch(replicas, primary_url)) if replicas.replicas else None
    try:
        yield replicas
    finally:
        if monitor is not None:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
        await replicas.dispose()
