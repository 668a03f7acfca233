"""The composition root: the one place that knows every concrete class."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from dependency_injector import containers, providers
from sqlalchemy import make_url
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
    ReadEvents,
    UpdateItem,
)
from application.webhooks import ManageWebhooks
from infrastructure.db.engine import build_engine, command_timeout, transaction_setup
from infrastructure.db.events import EventPurger
from infrastructure.db.idempotency import IdempotencyPurger
from infrastructure.db.migrator import prepare_database
from infrastructure.db.readiness import ReadinessProbe
from infrastructure.db.replica_monitor import replicas_lifecycle
from infrastructure.db.replicas import build_replicas
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings
from infrastructure.webhooks import (
    DispatchSettings,
    SqlSubscriptionStore,
    TargetPolicy,
    WebhookDispatcher,
)


def _event_retention(settings: Settings) -> timedelta:
    return settings.event_retention


def _dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        timeout=settings.webhooks_timeout,
        retry_base=settings.webhooks_retry_base,
        retry_cap=settings.webhooks_retry_cap,
        retry_for=settings.webhooks_retry_for,
    )


def _target_policy(settings: Settings) -> TargetPolicy:
    return TargetPolicy(settings.webhooks_allow_private)


def _idempotency_ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.idempotency_ttl_hours)


async def _engine_lifecycle(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """Close every pooled connection at shutdown (the engine itself connects lazily)."""
    try:
        yield engine
    finally:
        await engine.dispose()


def _embedded_data(settings: Settings) -> Path | None:
    """The embedded database's directory: no URL configured, or the URL `stockroom serve` set
    for the server it started (a socket in that directory)."""
    if settings.database_url is None:
        return settings.data_dir
    pgdata = settings.data_dir.resolve() / "pgdata"
    query = make_url(settings.database_url.get_secret_value()).query
    return settings.data_dir if query.get("host") == str(pgdata) else None


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)
    keyring = providers.Singleton(Settings.keyring, settings)

    #: The configured URL, or the embedded server's (started and migrated on first use).
    database_url = providers.Singleton(prepare_database, settings)
    engine = providers.Singleton(build_engine, database_url, settings)
    engine_lifecycle = providers.Resource(_engine_lifecycle, engine)
    idempotency_ttl = providers.Singleton(_idempotency_ttl, settings)
    # Not a Singleton: dependency-injector builds one whose value is None (no PgBouncer) anew on
    # every call, at many times this Callable's cost, and every unit of work asks for it.
    transaction_setup = providers.Callable(transaction_setup, settings)
    replicas = providers.Singleton(build_replicas, settings)
    replicas_lifecycle = providers.Resource(replicas_lifecycle, replicas, database_url)
    commit_timeout = providers.Singleton(command_timeout, settings)
    unit_of_work = providers.Factory(
        SqlUnitOfWork, engine, idempotency_ttl, transaction_setup, replicas, commit_timeout
    )
    readiness = providers.Singleton(
        ReadinessProbe, engine.provider, replicas, providers.Callable(_embedded_data, settings)
    )
    idempotency_purger = providers.Singleton(IdempotencyPurger, engine, idempotency_ttl)
    event_retention = providers.Singleton(_event_retention, settings)
    event_purger = providers.Singleton(EventPurger, engine, event_retention)
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
    read_events = providers.Singleton(ReadEvents, unit_of_work.provider)

    webhook_targets = providers.Singleton(_target_policy, settings)
    webhook_subscriptions = providers.Singleton(SqlSubscriptionStore, engine.provider)
    manage_webhooks = providers.Singleton(ManageWebhooks, webhook_subscriptions, webhook_targets)
    webhook_dispatcher = providers.Factory(
        WebhookDispatcher, engine, webhook_targets, providers.Factory(_dispatch_settings, settings)
    )
