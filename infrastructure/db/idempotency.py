"""Idempotency records in PostgreSQL, inside the unit of work's transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from application.idempotency import IdempotencyRecord, StoredResponse
from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.tables import IdempotencyRow


def _lock_id(scope: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for the key (a collision only costs a spurious 409)."""
    digest = hashlib.sha256(f"stockroom-idempotency\x00{scope}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class SqlIdempotencyStore:
    def __init__(self, session: AsyncSession, ttl: timedelta) -> None:
        self._session = session
        self._ttl = ttl

    async def acquire(self, scope: str, key: str) -> bool:
        # A transaction-level advisory lock: released at commit or rollback, shared by every
        # process on the database, and never waited for (a concurrent duplicate gets a 409).
        statement = select(func.pg_try_advisory_xact_lock(_lock_id(scope, key)))
        with unavailable_on_outage():
            acquired = (await self._session.exec(statement)).one()
        return bool(acquired)

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        statement = select(IdempotencyRow).where(
            col(IdempotencyRow.scope) == scope,
            col(IdempotencyRow.key) == key,
            col(IdempotencyRow.created_at) > datetime.now(UTC) - self._ttl,
        )
        with unavailable_on_outage():
            row = (await self._session.exec(statement)).first()
        if row is None:
            return None
        headers = tuple((name, value) for name, value in row.headers)
        return IdempotencyRecord(
            key=row.key,
            fingerprint=row.fingerprint,
            response=StoredResponse(status=row.status, headers=headers, body=row.body),
        )

    async def save(self, scope: str, record: IdempotencyRecord) -> None:
        values = {
            "scope": scope,
            "key": record.key,
            "fingerprint": record.fingerprint,
            "status": record.response.status,
            "headers": [list(pair) for pair in record.response.headers],
            "body": record.response.body,
            "created_at": datetime.now(UTC),
        }
        # An expired record for the same key (not yet purged) is replaced.
        statement = insert(IdempotencyRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[col(IdempotencyRow.scope), col(IdempotencyRow.key)],
            set_={k: statement.excluded[k] for k in values if k not in {"scope", "key"}},
        )
        with unavailable_on_outage():
            await self._session.exec(statement)


async def purge_expired(engine: AsyncEngine, ttl: timedelta) -> int:
    """Delete records older than the retention period; returns how many went."""
    statement = delete(IdempotencyRow).where(
        col(IdempotencyRow.created_at) < datetime.now(UTC) - ttl
    )
    with unavailable_on_outage():
        async with engine.begin() as connection:
            result = await connection.execute(statement)
    return result.rowcount or 0


class IdempotencyPurger:
    """Deletes expired records; the HTTP app runs it periodically (any process may, safely)."""

    def __init__(self, engine: AsyncEngine, ttl: timedelta) -> None:
        self._engine = engine
        self._ttl = ttl

    async def __call__(self) -> int:
        return await purge_expired(self._engine, self._ttl)
