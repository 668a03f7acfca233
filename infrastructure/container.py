"""The composition root: the one place that knows every concrete class."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from application.idempotency import RunIdempotently
from application.use_cases import (
    AdjustStock,
    CreateItem,
    CreateItems,
    DeleteItem,
    ExportItems,
    GetItem,
    ImportItems,
    ListItems,
    UpdateItem,
)
from infrastructure.db.engine import build_engine, command_timeout, transaction_setup
from infrastructure.db.idempotency import IdempotencyPurger
from infrastructure.db.migrator import prepare_database
from infrastructure.db.readiness import ReadinessProbe
from infrastructure.db.replica_monitor import replicas_lifecycle
from infrastructure.db.replicas import build_replicas
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings


def _idempotency_ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.idempotency_ttl_hours)


async def _engine_lifecycle(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Close every pooled connection at shutdown (the engine itself connects lazily)."""
    try:
        yield engine
    finally:
        await engine.dispose()


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    keyring = providers.Singleton(Settings.keyring, settings)

    #: The configured URL, or the embedded server's (started and migrated on first use).
    database_url = providers.Singleton(prepare_database, settings)
    engine = providers.Singleton(build_engine, database_url, settings)
    engine_lifecycle = providers.Resource(_engine_lifecycle, engine)
    # Built once: every unit of work, reads included, takes it.
    idempotency_ttl = providers.Singleton(_idempotency_ttl, settings)
    transaction_setup = providers.Singleton(transaction_setup, settings)
    #: The streaming standbys read-only units may run on (none configured: all on the primary).
    replicas = providers.Singleton(build_replicas, settings)
    replicas_lifecycle = providers.Resource(replicas_lifecycle, replicas, database_url)
    commit_timeout = providers.Singleton(command_timeout, settings)
    unit_of_work = providers.Factory(
        SqlUnitOfWork, engine, idempotency_ttl, transaction_setup, replicas, commit_timeout
    )
    readiness = providers.Singleton(ReadinessProbe, engine.provider, replicas)
    idempotency_purger = providers.Singleton(IdempotencyPurger, engine, idempotency_ttl)
    run_idempotently = providers.Singleton(RunIdempotently, unit_of_work.provider)

    create_item = providers.Singleton(CreateItem, unit_of_work.provider)
    create_items = providers.Singleton(CreateItems, unit_of_work.provider)
    get_item = providers.Singleton(GetItem, unit_of_work.provider)
    list_items = providers.Singleton(ListItems, unit_of_work.provider)
    update_item = providers.Singleton(UpdateItem, unit_of_work.provider)
    delete_item = providers.Singleton(DeleteItem, unit_of_work.provider)
    adjust_stock = providers.Singleton(AdjustStock, unit_of_work.provider)
    import_items = providers.Singleton(ImportItems, unit_of_work.provider)
    export_items = providers.Singleton(ExportItems, unit_of_work.provider)
