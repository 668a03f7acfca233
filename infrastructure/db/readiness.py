"""Readiness: the database answers and its schema is at the migrations' head."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.db.errors import is_unavailable
from infrastructure.db.schema import head_revision


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str


class ReadinessProbe:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._head = head_revision()

    async def __call__(self) -> Readiness:
        try:
            async with self._engine.connect() as connection:
                current = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        except Exception as error:
            if is_unavailable(error):
                return Readiness(False, "the database does not answer")
            # e.g. alembic_version missing: the database was never migrated.
            return Readiness(False, "the database schema is not migrated")
        if current != self._head:
            return Readiness(False, "the database schema is not at the migrations' head")
        return Readiness(True, "ok")
