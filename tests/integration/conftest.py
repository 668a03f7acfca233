from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from infrastructure.db.engine import build_engine, build_session_factory
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings


@pytest.fixture(scope="session")
async def engine(settings: Settings, database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return build_session_factory(engine)


@pytest.fixture
def uow_factory(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine, session_factory)
