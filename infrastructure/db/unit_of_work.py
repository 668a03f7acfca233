"""The async unit of work: owns one session (one transaction); rolls back unless committed."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.idempotency import SqlIdempotencyStore
from infrastructure.db.repository import SqlItemRepository


class SqlUnitOfWork:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._session_factory = session_factory
        self._idempotency_ttl = idempotency_ttl
        self._session: AsyncSession | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._committed = False
        self.items = SqlItemRepository(self._session)
        self.idempotency = SqlIdempotencyStore(self._session, self._idempotency_ttl)
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
            if not self._committed:
                with unavailable_on_outage():
                    await session.rollback()
        finally:
            # close() returns the connection to the pool (resetting it if a rollback failed).
            await session.close()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `async with` block")
        return self._session

    async def commit(self) -> None:
        with unavailable_on_outage():
            await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        with unavailable_on_outage():
            await self.session.rollback()
