"""The async engine and session factory, configured from settings."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from infrastructure.settings import Settings


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


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
    return create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
        # asyncpg prepared statement cache off behind PgBouncer (SQLAlchemy's own cache layer).
        **({"prepared_statement_cache_size": 0} if settings.pgbouncer else {}),
    )


def build_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: entities are mapped to domain objects before commit anyway,
    # and nothing must trigger a lazy refresh after it.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, autoflush=False)
