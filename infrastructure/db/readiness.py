"""Readiness: the database answers and its schema is at the migrations' head; if not, why.

The standbys are reported too, as their monitors last saw them (no query each probe): a standby
out of rotation only moves reads to the primary, so readiness follows the primary alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.db.errors import (
    SCHEMA_BEHIND,
    SCHEMA_MISSING,
    unavailability,
)
from infrastructure.db.migrator import head_revision
from infrastructure.db.replicas import ReplicaSet, ReplicaStatus


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str
    replicas: tuple[ReplicaStatus, ...] = field(default=())


class ReadinessProbe:
    def __init__(
        self, engine: Callable[[], AsyncEngine], replicas: ReplicaSet | None = None
    ) -> None:
        """`engine` gives the engine when the probe runs: the probe is built with the app, and
        the engine (and an embedded database) only when the app starts."""
        self._engine = engine
        self._replicas = replicas
        self._head = head_revision()

    async def __call__(self) -> Readiness:
        primary = await self._primary()
        if self._replicas is None:
            return primary
        return Readiness(primary.ready, primary.reason, tuple(self._replicas.status()))

    async def _primary(self) -> Readiness:
        try:
            async with self._engine().connect() as connection:
                current = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        except Exception as error:
            reason = unavailability(error)  # alembic_version missing: the schema is missing
            if reason is None:
                reason = f"the database cannot serve ({type(error).__name__})"
            return Readiness(False, reason)
        if current is None:
            return Readiness(False, SCHEMA_MISSING)
        if current != self._head:
            return Readiness(False, SCHEMA_BEHIND)
        return Readiness(True, "ok")
