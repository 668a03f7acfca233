"""Translation of driver and pool failures into the application's errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Final

import asyncpg
from sqlalchemy import exc as sa_exc

from application.errors import DataStoreUnavailable

# SQLSTATE classes that mean "the database cannot serve this now", not "your request is wrong".
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57", "40")


UNREACHABLE: Final = "the database is unreachable (it does not answer)"
AUTHENTICATION_FAILED: Final = "the database refused the connection: authentication failed"
DATABASE_MISSING: Final = "the database does not exist"
SCHEMA_MISSING: Final = "the database schema is missing (not migrated): run `stockroom db upgrade`"
SCHEMA_BEHIND: Final = (
    "the database schema is behind the migrations' head: run `stockroom db upgrade`"
)
NO_PRIMARY_STANDBYS: Final = "no primary: every database host is a standby"
NO_PRIMARY_STARTING: Final = "no primary: the database is starting up or shutting down"
NO_PRIMARY_DEMOTED: Final = "no primary: the database is a standby now (read-only)"
DISK_FULL: Final = "the database ran out of disk space"

# A database that answers but cannot serve until an operator acts: a 503, not a 500.
_UNUSABLE_SQLSTATES: Final = {
    "28P01": AUTHENTICATION_FAILED,
    "28000": AUTHENTICATION_FAILED,  # invalid_authorization_specification (e.g. pg_hba)
    "3D000": DATABASE_MISSING,
    "42P01": SCHEMA_MISSING,
    "3F000": SCHEMA_MISSING,
    "42703": SCHEMA_BEHIND,
    "42883": SCHEMA_BEHIND,
    "57P03": NO_PRIMARY_STARTING,
    "25006": NO_PRIMARY_DEMOTED,
    "53100": DISK_FULL,
}

#: asyncpg's own error (no SQLSTATE) when no host of the URL matches target_session_attrs.
_NO_MATCHING_HOST: Final = "None of the hosts match the target attribute requirement"


def _no_matching_host(error: BaseException) -> bool:
    return any(
        isinstance(seen, asyncpg.InternalClientError) and _NO_MATCHING_HOST in str(seen)
        for seen in _chain(error)
    )


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None:  # SQLAlchemy's asyncpg adapter keeps the driver error one level down
        code = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code if isinstance(code, str) else None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it wraps (SQLAlchemy's `.orig`, or its cause)."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__


def sqlstate_of(error: BaseException) -> str | None:
    """The SQLSTATE behind `error`, however it was wrapped."""
    for seen in _chain(error):
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def unavailability(error: BaseException) -> str | None:
    """Why the database cannot serve, when `error` says it cannot; None for any other error."""
    reason = _UNUSABLE_SQLSTATES.get(sqlstate_of(error) or "")
    if reason is not None:
        return reason
    if _no_matching_host(error):
        return NO_PRIMARY_STANDBYS
    return UNREACHABLE if is_unavailable(error) else None


def is_unavailable(error: BaseException) -> bool:  # noqa: PLR0911  (one answer per error kind)
    if isinstance(error, sa_exc.TimeoutError | OSError | asyncio.TimeoutError | TimeoutError):
        return True
    if sqlstate_of(error) == "25006" or _no_matching_host(error):
        return True
    if isinstance(error, asyncpg.PostgresError):
        return str(error.sqlstate or "").startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
    if isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        state = _sqlstate(error)
        if state is not None:
            return state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)
        # No SQLSTATE: the driver failed below the protocol (socket closed, timeout).
        return isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError)
    # SQLAlchemy's asyncpg adapter raises its own error, unwrapped, when a connection is refused.
    state = sqlstate_of(error)
    return state is not None and state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES)


_DISCONNECT_SQLSTATES = ("08", "57P01", "57P02", "57P03")
#: A standby cancelled the statement to replay WAL it conflicted with (lock, snapshot, pin).
_RECOVERY_CONFLICT_SQLSTATES = ("40001", "40P01")


def is_disconnect(error: BaseException | None) -> bool:
    """The connection itself is gone or in an unknown state: it must not be used again."""
    if isinstance(
        error,
        asyncpg.InterfaceError
        | asyncpg.InternalClientError  # its protocol state is lost (the server died mid-call)
        | OSError
        | asyncio.TimeoutError
        | TimeoutError,
    ):
        return True
    if isinstance(error, asyncpg.PostgresError):
        return str(error.sqlstate or "").startswith(_DISCONNECT_SQLSTATES)
    return False


def is_demoted(error: BaseException) -> bool:
    """A write refused as read-only: the connection leads to a primary that was demoted."""
    return sqlstate_of(error) == "25006"


def drops_pool(error: BaseException) -> bool:
    """The pool's other connections are most likely unusable too (gone, or to a demoted primary)."""
    return is_disconnect(error) or is_demoted(error)


def is_recovery_conflict(error: BaseException) -> bool:
    """On a standby (where nothing else raises these), a read cancelled by WAL replay."""
    return isinstance(error, asyncpg.PostgresError) and error.sqlstate in (
        _RECOVERY_CONFLICT_SQLSTATES
    )


def standby_failed(error: BaseException) -> bool:
    """A read on a standby that the primary should run instead."""
    return is_disconnect(error) or is_recovery_conflict(error)


def primary_lost(error: BaseException) -> bool:
    """Writes cannot reach a primary: the connection went, or no host is a primary now."""
    return (
        any(is_disconnect(seen) for seen in _chain(error))
        or _no_matching_host(error)
        or sqlstate_of(error) == "25006"
    )


class _OutageAsUnavailable:
    # A class rather than @contextmanager: it wraps every statement, and a generator-based
    # context manager costs several times as much to enter and leave.
    def __enter__(self) -> None:
        return None

    def __exit__(self, _: object, error: BaseException | None, __: object) -> None:
        if isinstance(error, Exception) and not isinstance(error, DataStoreUnavailable):
            reason = unavailability(error)
            if reason is not None:
                raise DataStoreUnavailable(reason) from error


_OUTAGE_AS_UNAVAILABLE: Final = _OutageAsUnavailable()


def unavailable_on_outage() -> _OutageAsUnavailable:
    """Re-raise outages, and a database that answers but cannot serve, as DataStoreUnavailable."""
    return _OUTAGE_AS_UNAVAILABLE


def violated_constraint(error: sa_exc.IntegrityError | asyncpg.PostgresError) -> str | None:
    if isinstance(error, asyncpg.PostgresError):
        name = getattr(error, "constraint_name", None)
        return name if isinstance(name, str) else None
    name = getattr(error.orig, "constraint_name", None)
    if name is None:  # SQLAlchemy's asyncpg adapter keeps the driver error one level down
        name = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None)
    return name if isinstance(name, str) else None
