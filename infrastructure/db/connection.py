"""One pooled connection used on its asyncpg driver: the unit of work's fast path, without an ORM
session's or a SQLAlchemy `Connection`'s greenlet hops on every request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool, PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from application.errors import CommitOutcomeUnknown
from infrastructure.db.engine import TransactionSetup
from infrastructure.db.errors import drops_pool, is_demoted, is_disconnect

#: asyncpg cancels a statement past its timeout; COMMIT's is set past the unit's own bound, which
#: closes the connection instead (see `commit`).
_COMMIT_DRIVER_TIMEOUT_EXTRA = 60.0


class PooledConnection:
    def __init__(self, engine: AsyncEngine, pool: Pool, pooled: PoolProxiedConnection) -> None:
        self.engine = engine
        self._pool = pool  # `dispose` replaces the engine's
        self._pooled = pooled
        self.driver: Any = pooled.driver_connection
        self.in_transaction = False

    @classmethod
    async def check_out(cls, engine: AsyncEngine) -> PooledConnection:
        pool = engine.pool
        return cls(engine, pool, await engine.raw_connection())

    def is_closed(self) -> bool:
        return self.driver is None or bool(self.driver.is_closed())

    async def begin(self, setup: TransactionSetup | None) -> None:
        # Plain statements: the unit tracks its one transaction itself.
        await self.driver.execute("BEGIN;")
        self.in_transaction = True
        if setup is not None:
            await self.driver.execute(setup.sql, *setup.args)

    async def commit(self, bound: float) -> None:
        """COMMIT, waited for up to `bound` seconds and never cancelled: a cancelled COMMIT waiting
        for a synchronous standby commits locally, unreplicated. Past `bound` the socket closes."""
        self.in_transaction = False
        if self.is_closed():  # lost before COMMIT: asyncpg refuses to send it, nothing commits
            await self.driver.execute("COMMIT;")
        closer = asyncio.get_running_loop().call_later(bound, self.driver.terminate)
        try:
            await self.driver.execute("COMMIT;", timeout=bound + _COMMIT_DRIVER_TIMEOUT_EXTRA)
        except Exception as error:
            if is_disconnect(error):
                raise CommitOutcomeUnknown from error
            raise
        finally:
            closer.cancel()

    async def rollback(self) -> None:
        self.in_transaction = False
        await self.driver.execute("ROLLBACK;")

    async def discard(self, error: Exception | None, *, with_pool: bool = False) -> None:
        """Invalidate it instead of pooling it again; `with_pool` replaces the pool too, as
        SQLAlchemy's disconnect handling (which the driver's statements bypass) would."""
        await greenlet_spawn(self._pooled.invalidate, error)
        if with_pool:
            await self.engine.dispose(close=error is not None and is_demoted(error))

    async def release(
        self, error: BaseException | None, then: Callable[[Any], Awaitable[None]] | None = None
    ) -> None:
        """Roll back what was not committed, run `then` on the driver, and hand it back to its
        pool; a connection whose state is unknown is discarded instead."""
        if isinstance(error, Exception) and drops_pool(error):
            await self.discard(error, with_pool=True)
            return
        try:
            if self.in_transaction:
                await self.rollback()
            if then is not None:
                await then(self.driver)
        except BaseException:  # cancelled too
            await self.discard(None)
            raise
        await self.check_in()

    async def check_in(self) -> None:
        """Hand it back to its pool, without a greenlet when that cannot await (only a full pool
        closes it); a closed one is discarded instead."""
        if self.is_closed():
            await self.discard(None)
        elif isinstance(self._pool, QueuePool) and self._pool.checkedin() < self._pool.size():
            self._pooled.close()
        else:
            await greenlet_spawn(self._pooled.close)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # reported by the caller already
