"""Idempotency records in PostgreSQL, inside the unit of work's transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import orjson
from sqlalchemy import bindparam, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from application.ports import IdempotencyRecord, StoredResponse
from infrastructure.db.compiled import compile_statement
from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.tables import IdempotencyRow

if TYPE_CHECKING:
    from infrastructure.db.compiled import Database


def _lock_id(scope: str, key: str) -> int:
    """A signed 64-bit advisory-lock id; a collision only costs a spurious 409."""
    digest = hashlib.sha256(f"stockroom-idempotency\x00{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_ACQUIRE: Final = compile_statement(select(func.pg_try_advisory_xact_lock(bindparam("lock_id"))))
_FIND: Final = compile_statement(
    select(
        col(IdempotencyRow.fingerprint),
        col(IdempotencyRow.status),
        col(IdempotencyRow.headers),
        col(IdempotencyRow.body),
    ).where(
        col(IdempotencyRow.scope) == bindparam("scope"),
        col(IdempotencyRow.key) == bindparam("key"),
        col(IdempotencyRow.created_at) > bindparam("not_before"),
    )
)
_SAVE_COLUMNS: Final = ("scope", "key", "fingerprint", "status", "headers", "body", "created_at")
_insert = insert(IdempotencyRow).values({name: bindparam(name) for name in _SAVE_COLUMNS})
# An expired record for the same key (not yet purged) is replaced.
_SAVE: Final = compile_statement(
    _insert.on_conflict_do_update(
        index_elements=[col(IdempotencyRow.scope), col(IdempotencyRow.key)],
        set_={name: _insert.excluded[name] for name in _SAVE_COLUMNS[2:]},
    )
)


class SqlIdempotencyStore:
    def __init__(self, database: Database, ttl: timedelta) -> None:
        self._db = database
        self._ttl = ttl

    async def acquire(self, scope: str, key: str) -> bool:
        # Held until the transaction ends, seen by every process, never waited for (409).
        acquired = await self._db.fetchval(
            _ACQUIRE.sql, *_ACQUIRE.args({"lock_id": _lock_id(scope, key)}), write=True
        )
        return bool(acquired)

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        values = {"scope": scope, "key": key, "not_before": datetime.now(UTC) - self._ttl}
        row = await self._db.fetchrow(_FIND.sql, *_FIND.args(values), write=True)
        if row is None:
            return None
        fingerprint, status, headers, body = row
        # SQLAlchemy's jsonb codec on the connection decodes; plain asyncpg hands back text.
        decoded = orjson.loads(headers) if isinstance(headers, str | bytes) else headers
        pairs = tuple((name, value) for name, value in decoded)
        return IdempotencyRecord(
            key=key,
            fingerprint=fingerprint,
            response=StoredResponse(status=status, headers=pairs, body=body),
        )

    async def save(self, scope: str, record: IdempotencyRecord) -> None:
        values = {
            "scope": scope,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "status": record.response.status,
            # Passed as JSON text: the driver's jsonb codec (set up by SQLAlchemy) takes text.
            "headers": orjson.dumps([list(pair) for pair in record.response.headers]).decode(),
            "body": record.response.body,
            "created_at": datetime.now(UTC),
        }
        await self._db.execute(_SAVE.sql, *_SAVE.args(values))


async def purge_expired(engine: AsyncEngine, ttl: timedelta) -> int:
    statement = delete(IdempotencyRow).where(
        col(IdempotencyRow.created_at) < datetime.now(UTC) - ttl
    )
    with unavailable_on_outage():
        async with engine.begin() as connection:
            result = await connection.execute(statement)
    return result.rowcount or 0


class IdempotencyPurger:
    """Run periodically by the HTTP app; any number of processes may run it."""

    def __init__(self, engine: AsyncEngine, ttl: timedelta) -> None:
        self._engine = engine
        self._ttl = ttl

    async def __call__(self) -> int:
        return await purge_expired(self._engine, self._ttl)
