"""One suite for every implementation of the ports: the in-memory fakes the unit tests trust,
and the PostgreSQL adapters. Each test runs against both; only the PostgreSQL half is a
database test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from application.ports import IdempotencyRecord
from domain.item import Item
from infrastructure.db.engine import build_engine
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings
from tests.contract.helpers import UowFactory
from tests.unit.fakes import InMemoryFeedLog, InMemoryUnitOfWork


@pytest.fixture(scope="session")
async def postgres_engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(database_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.db)])
def uow_factory(request: pytest.FixtureRequest) -> UowFactory:
    """Fresh units of work over one empty store: in memory, or in the test database."""
    if request.param == "memory":
        items: dict[UUID, Item] = {}
        records: dict[tuple[str, str], IdempotencyRecord] = {}
        held: set[tuple[str, str]] = set()
        feed = InMemoryFeedLog()
        return lambda: InMemoryUnitOfWork(items, records, held, feed)
    engine: AsyncEngine = request.getfixturevalue("postgres_engine")
    return lambda: SqlUnitOfWork(engine)
