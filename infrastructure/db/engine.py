"""The async engine and session factory, configured from settings."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel.ext.asyncio.session import AsyncSession

from infrastructure.settings import Settings


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


def _abort_invalidated(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _error: BaseException | None
) -> None:
    """Drop an invalidated connection at once instead of closing it politely.

    After a command timeout asyncpg sends a cancel request in the background, and SQLAlchemy's
    polite close waits for it. On a network that silently stopped answering that wait is
    another full command timeout, which doubled the time a request hung before its 503.
    """
    driver = record.driver_connection
    if driver is not None:
        driver.terminate()


def build_engine(
    url: str, settings: Settings, *, application_name: str = "stockroom"
) -> AsyncEngine:
    server_settings = {
        "application_name": application_name,
        "statement_timeout": _ms(settings.statement_timeout),
        "idle_in_transaction_session_timeout": _ms(settings.idle_in_transaction_timeout),
    }
    connect_args: dict[str, Any] = {
        "timeout": settings.connect_timeout,
        # The client-side bound: a connection that silently stops answering must not hang a
        # request forever; the server-side statement_timeout normally fires first.
        "command_timeout": settings.statement_timeout + 1.0,
        "server_settings": server_settings,
    }
    if settings.pgbouncer:
        # Transaction pooling hands each transaction a different server connection, so named
        # prepared statements cannot be reused or even kept: unique names, no cache.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = lambda: f"__asyncpg_{uuid4()}__"
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
        # asyncpg prepared statement cache off behind PgBouncer (SQLAlchemy's own cache layer).
        **({"prepared_statement_cache_size": 0} if settings.pgbouncer else {}),
    )
    event.listen(engine.sync_engine, "invalidate", _abort_invalidated)
    return engine


def build_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: entities are mapped to domain objects before commit anyway,
    # and nothing must trigger a lazy refresh after it.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, autoflush=False)
