"""The async engine (its pool of asyncpg connections), configured from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import uuid4

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from infrastructure.settings import Settings

#: How long past the server's statement_timeout the client gives up on a silent connection.
COMMAND_TIMEOUT_MARGIN = 0.3


def command_timeout(settings: Settings) -> float:
    """The client-side bound of a statement (and of the wait for a COMMIT)."""
    return settings.statement_timeout + COMMAND_TIMEOUT_MARGIN


DEFAULT_COMMAND_TIMEOUT: Final = command_timeout(Settings.model_construct())


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


def _abort_invalidated(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _error: BaseException | None
) -> None:
    """Drop an invalidated connection at once: a polite close waits for asyncpg's cancel request,
    which on a silent network is another full command timeout."""
    driver = record.driver_connection
    if driver is not None:
        driver.terminate()


#: Behind PgBouncer the session settings travel with each transaction (see build_engine).
_SET_TIMEOUTS_LOCALLY = (
    "SELECT set_config('statement_timeout', $1, true),"
    " set_config('idle_in_transaction_session_timeout', $2, true)"
)


@dataclass(frozen=True, slots=True)
class TransactionSetup:
    """A statement every transaction runs first (on the driver, see connection.py)."""

    sql: str
    args: tuple[str, ...]


def _timeouts(settings: Settings) -> dict[str, str]:
    return {
        "statement_timeout": _ms(settings.statement_timeout),
        "idle_in_transaction_session_timeout": _ms(settings.idle_in_transaction_timeout),
    }


def transaction_setup(settings: Settings) -> TransactionSetup | None:
    """Behind PgBouncer: the timeouts, set in each transaction (None when connecting directly)."""
    if not settings.pgbouncer:
        return None
    timeouts = _timeouts(settings)
    return TransactionSetup(
        _SET_TIMEOUTS_LOCALLY,
        (timeouts["statement_timeout"], timeouts["idle_in_transaction_session_timeout"]),
    )


def build_engine(
    url: str, settings: Settings, *, application_name: str = "stockroom"
) -> AsyncEngine:
    timeouts = _timeouts(settings)
    server_settings = {"application_name": application_name}
    if not settings.pgbouncer:
        server_settings.update(timeouts)
    connect_args: dict[str, Any] = {
        "timeout": settings.connect_timeout,
        # A connection that silently stops answering must not hang a request forever.
        "command_timeout": command_timeout(settings),
        "server_settings": server_settings,
    }
    if settings.pgbouncer:
        # Transaction pooling hands each transaction a different server connection.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = lambda: f"__asyncpg_{uuid4()}__"
        # SQLAlchemy's own cache (its asyncpg adapter reads this connect argument).
        connect_args["prepared_statement_cache_size"] = 0
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_recycle=1800,
        # Nothing to reset on return: the unit of work ends its own transaction on the driver.
        pool_reset_on_return=None,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "invalidate", _abort_invalidated)
    if settings.pgbouncer:
        # PgBouncer refuses (or silently drops) startup parameters, and a session SET would stick
        # to one server connection: each transaction sets the timeouts for itself.
        setup = transaction_setup(settings)
        assert setup is not None

        def _set_timeouts(connection: Connection) -> None:
            connection.exec_driver_sql(setup.sql, setup.args)

        event.listen(engine.sync_engine, "begin", _set_timeouts)
    return engine
