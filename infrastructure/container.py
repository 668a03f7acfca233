"""The composition root: the one place that knows every concrete class."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from application.use_cases import (
    AdjustStock,
    CreateItem,
    CreateItems,
    DeleteItem,
    GetItem,
    ListItems,
    UpdateItem,
)
from infrastructure.db.embedded import prepare_database
from infrastructure.db.engine import build_engine, build_session_factory
from infrastructure.db.readiness import ReadinessProbe
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings


async def _engine_lifecycle(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Close every pooled connection at shutdown (the engine itself connects lazily)."""
    try:
        yield engine
    finally:
        await engine.dispose()


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)

    #: The configured URL, or the embedded server's (started and migrated on first use).
    database_url = providers.Singleton(prepare_database, settings)
    engine = providers.Singleton(build_engine, database_url, settings)
    engine_lifecycle = providers.Resource(_engine_lifecycle, engine)
    session_factory = providers.Singleton(build_session_factory, engine)
    unit_of_work = providers.Factory(SqlUnitOfWork, session_factory)
    readiness = providers.Singleton(ReadinessProbe, engine)

    create_item = providers.Singleton(CreateItem, unit_of_work.provider)
    create_items = providers.Singleton(CreateItems, unit_of_work.provider)
    get_item = providers.Singleton(GetItem, unit_of_work.provider)
    list_items = providers.Singleton(ListItems, unit_of_work.provider)
    update_item = providers.Singleton(UpdateItem, unit_of_work.provider)
    delete_item = providers.Singleton(DeleteItem, unit_of_work.provider)
    adjust_stock = providers.Singleton(AdjustStock, unit_of_work.provider)
