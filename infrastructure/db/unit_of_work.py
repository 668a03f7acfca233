"""The async unit of work: owns one session (one connection, one transaction); rolls back unless
committed.

Repositories run their statements on the session's connection (through the driver, see
compiled.py). Reads need no transaction (one statement is its own snapshot), so a unit of work
that only reads sends no BEGIN/ROLLBACK; the first write begins one. Statements in one unit of
work go either all through the driver or all through the session, never both: the session hands
its connection back to the pool when it commits, so the driver's transaction ends first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from infrastructure.db.errors import is_disconnect, unavailable_on_outage
from infrastructure.db.idempotency import SqlIdempotencyStore
from infrastructure.db.repository import SqlItemRepository

_log = logging.getLogger(__name__)


class SqlUnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._session_factory = session_factory
        self._idempotency_ttl = idempotency_ttl
        self._session: AsyncSession | None = None
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection under the session's connection
        self._transaction: Any = None  # the asyncpg transaction this unit of work began
        self._committed = False

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._connection = self._driver = self._transaction = None
        self._committed = False
        self.items = SqlItemRepository(self.driver)
        self.idempotency = SqlIdempotencyStore(self.driver, self._idempotency_ttl)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if exc is not None and is_disconnect(exc.__cause__ or exc):
                await self._discard_connection(exc.__cause__ or exc)
            elif not self._committed:
                await self._rollback(session)
        finally:
            # close() returns the connection to the pool (resetting it if a rollback failed).
            await session.close()
            self._connection = self._driver = self._transaction = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session

    async def driver(self, *, write: bool) -> Any:
        """The asyncpg connection of this unit of work, in a transaction when `write`."""
        if self._driver is None:
            with unavailable_on_outage():
                self._connection = await self.session.connection()
                raw = await self._connection.get_raw_connection()
            self._driver = raw.driver_connection
        if write and self._transaction is None and not self._driver.is_in_transaction():
            with unavailable_on_outage():
                transaction = self._driver.transaction()
                await transaction.start()
            self._transaction = transaction
        return self._driver

    async def commit(self) -> None:
        session = self.session
        transaction, self._transaction = self._transaction, None
        with unavailable_on_outage():
            if transaction is not None:
                # Whether COMMIT succeeds or fails, the transaction is over on the server.
                await transaction.commit()
            # Last: committing the session also hands its connection back to the pool.
            await session.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self._rollback(self.session)

    async def _discard_connection(self, error: BaseException) -> None:
        """The driver lost its connection: drop it, and every pooled one opened before.

        Statements on the driver bypass SQLAlchemy's own disconnect handling, so this does what
        it would: the connection is invalidated (and aborted, see engine.py), and the pool is
        replaced, since the connections it holds most likely died in the same outage.
        """
        self._transaction = None
        connection = self._connection
        if connection is None or connection.invalidated:
            return
        await connection.invalidate(error)
        await connection.engine.dispose(close=False)

    async def _rollback(self, session: AsyncSession) -> None:
        transaction, self._transaction = self._transaction, None
        try:
            with unavailable_on_outage():
                if transaction is not None:
                    await transaction.rollback()
                # Last: it also hands the session's connection back to the pool.
                await session.rollback()
        except Exception:
            # A connection that cannot roll back must not go back to the pool mid-transaction.
            if self._connection is not None:
                await self._connection.invalidate()
            raise
