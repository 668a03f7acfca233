"""Translation of driver and pool failures into the application's errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa_exc

from application.errors import DataStoreUnavailable

# SQLSTATE classes that mean "the database cannot serve this now", not "your request is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (incl. 57014
# query_canceled from statement_timeout, 57P01 admin shutdown), 40001/40P01 serialization/deadlock.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57", "40")


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def is_unavailable(error: BaseException) -> bool:  # noqa: PLR0911  (one answer per error kind)
    if isinstance(error, sa_exc.TimeoutError | OSError | asyncio.TimeoutError | TimeoutError):
        return True
    if isinstance(error, asyncpg.PostgresError):  # raised by statements run on the driver
        return str(error.sqlstate or "").startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
    if isinstance(error, asyncpg.InterfaceError):  # e.g. the connection was closed under us
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = _sqlstate(error)
        if state is not None:
            return state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
        # No SQLSTATE: the driver failed below the protocol (socket closed, timeout).
        return isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError)
    return False


_DISCONNECT_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def is_disconnect(error: BaseException | None) -> bool:
    """The connection itself is gone or in an unknown state: it must not be used again."""
    if isinstance(error, asyncpg.InterfaceError | OSError | asyncio.TimeoutError | TimeoutError):
        return True
    if isinstance(error, asyncpg.PostgresError):
        return str(error.sqlstate or "").startswith(_DISCONNECT_SQLSTATES)
    return False


@contextmanager
def unavailable_on_outage() -> Iterator[None]:
    """Re-raise connectivity, pool and timeout failures as DataStoreUnavailable."""
    try:
        yield
    except DataStoreUnavailable:
        raise
    except Exception as error:
        if is_unavailable(error):
            raise DataStoreUnavailable() from error
        raise


def violated_constraint(error: sa_exc.IntegrityError | asyncpg.PostgresError) -> str | None:
    if isinstance(error, asyncpg.PostgresError):
        name = getattr(error, "constraint_name", None)
        return name if isinstance(name, str) else None
    name = getattr(error.orig, "constraint_name", None)
    if name is None:  # SQLAlchemy's asyncpg adapter keeps the driver error one level down
        name = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    return name if isinstance(name, str) else None
