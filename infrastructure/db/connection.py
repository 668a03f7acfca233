"""One pooled connection used on its asyncpg driver: the unit of work's fast path.

The unit of work checks the asyncpg connection out of the engine's pool itself and sends its
few transaction statements as plain text, instead of going through an ORM session, a SQLAlchemy
`Connection` and their greenlet hops, which cost CPU on every request.
"""

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
        self._pool = pool  # the pool it came from: `dispose` replaces the engine's
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
        # Plain statements, not asyncpg's `transaction()` object: the unit tracks its one
        # transaction itself. The texts are asyncpg's own, so traces name them as before.
        await self.driver.execute("BEGIN;")
        self.in_transaction = True
        if setup is not None:
            await self.driver.execute(setup.sql, *setup.args)

    async def commit(self, bound: float) -> None:
        """COMMIT, waited for up to `bound` seconds and never cancelled.

        A COMMIT waiting for a synchronous standby that is cancelled commits locally without
        being replicated, visible here and lost by a failover. So the client never cancels it:
        past `bound` it closes the socket, and the server keeps waiting for the standby.
        """
        self.in_transaction = False
        if self.is_closed():  # lost before COMMIT: asyncpg refuses to send it, nothing commits
            await self.driver.execute("COMMIT;")
        commit = asyncio.ensure_future(
            self.driver.execute("COMMIT;", timeout=bound + _COMMIT_DRIVER_TIMEOUT_EXTRA)
        )
        try:
            await asyncio.wait((commit,), timeout=bound)
        finally:
            if not commit.done():
                commit.add_done_callback(_retrieve)
                self.driver.terminate()
        try:
            await commit
        except Exception as error:
            if is_disconnect(error):
                raise CommitOutcomeUnknown from error
            raise

    async def rollback(self) -> None:
        self.in_transaction = False
        await self.driver.execute("ROLLBACK;")

    async def discard(self, error: Exception | None, *, with_pool: bool = False) -> None:
        """Invalidate it (aborting it, see engine.py) instead of pooling it again.

        Statements on the driver bypass SQLAlchemy's disconnect handling, so after an outage
        this does what it would: the pool is replaced, as its other connections most likely
        went with this one. Those of a demoted primary, which still answers, are closed, so
        that every new one looks for the new primary.
        """
        await greenlet_spawn(self._pooled.invalidate, error)
        if with_pool:
            await self.engine.dispose(close=error is not None and is_demoted(error))

    async def release(
        self, error: BaseException | None, then: Callable[[Any], Awaitable[None]] | None = None
    ) -> None:
        """Roll back what was not committed, run `then` on the driver, and hand it back to its
        pool; `error`, what its unit failed with, may have lost it (or its pool's other
        connections), and a connection whose state is unknown is discarded instead."""
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
        """Hand it back to its pool, without a greenlet when that cannot await: only a full
        pool closes it (an overflow connection), since nothing is reset on return (engine.py).
        A closed one (a COMMIT past its bound, a cancelled unit) is discarded instead."""
        if self.is_closed():
            await self.discard(None)
        elif isinstance(self._pool, QueuePool) and self._pool.checkedin() < self._pool.size():
            self._pooled.close()
        else:
            await greenlet_spawn(self._pooled.close)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # the lost connection's error, reported by the caller already
