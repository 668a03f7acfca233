"""Readiness: the database answers and its schema is at the migrations' head; if not, why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.db.errors import (
    SCHEMA_BEHIND,
    SCHEMA_MISSING,
    unavailability,
)
from infrastructure.db.migrator import head_revision


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str


class ReadinessProbe:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        """`engine` gives the engine when the probe runs: the probe is built with the app, and
        the engine (and an embedded database) only when the app starts."""
        self._engine = engine
        self._head = head_revision()

    async def __call__(self) -> Readiness:
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
