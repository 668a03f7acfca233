"""Readiness: the database answers and its schema is one this release can serve; if not, why.

A release serves its own head, and a database ahead of it by expand revisions only, which the
newer release's runner records (the oldest head that can serve each revision), so no file of the
newer release is needed. Readiness follows the primary alone: a standby out of rotation only moves
reads to the primary.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infrastructure.db.errors import DISK_FULL, SCHEMA_MISSING, unavailability
from infrastructure.db.migrator import COMPATIBILITY_TABLE, head_revision, version_files
from infrastructure.db.replicas import ReplicaSet, ReplicaStatus

AT_HEAD: Final = "at head"
AHEAD_COMPATIBLE: Final = "ahead by compatible revisions"
#: Less free space than one WAL segment: PostgreSQL can no longer write.
MIN_FREE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str
    replicas: tuple[ReplicaStatus, ...] = field(default=())
    #: The database's revision and how it stands to this release's head, when it was read.
    revision: str | None = None
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaStanding:
    ready: bool
    reason: str


def standing(
    revision: str, head: str | None, known: frozenset[str], oldest_head: str | None
) -> SchemaStanding:
    """How a database at `revision` stands to a release at `head` knowing `known` revisions,
    given the revision's recorded oldest serving head (None: no record)."""
    if revision == head:
        return SchemaStanding(True, AT_HEAD)
    if revision in known:
        return SchemaStanding(
            False,
            f"the database schema is behind the migrations' head (at {revision}, this "
            f"release's head is {head}): run `stockroom db upgrade`",
        )
    if oldest_head is None:
        return SchemaStanding(
            False,
            f"the database schema is at revision {revision}, which this release does not know "
            "and no record says it can serve: migrate it with the release it belongs to",
        )
    if oldest_head in known:
        return SchemaStanding(True, AHEAD_COMPATIBLE)
    return SchemaStanding(
        False,
        f"the database schema is ahead of this release (at {revision}) by a revision this "
        f"release cannot serve (it needs a release at {oldest_head} or later): deploy that",
    )


class ReadinessProbe:
    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        replicas: ReplicaSet | None = None,
        embedded_data: Path | None = None,
    ) -> None:
        """`engine` gives the engine when the probe runs: the probe is built with the app, and
        the engine (and an embedded database) only when the app starts. `embedded_data` is the
        embedded database's directory, whose disk the probe can see (an external one's it
        cannot: there a full disk shows in the writes' 503s and the log)."""
        self._engine = engine
        self._replicas = replicas
        self._embedded_data = embedded_data
        self._head = head_revision()
        self._known = frozenset(version_files())

    async def __call__(self) -> Readiness:
        primary = await self._primary()
        if self._replicas is None:
            return primary
        return Readiness(
            primary.ready,
            primary.reason,
            tuple(self._replicas.status()),
            primary.revision,
            primary.schema,
        )

    async def _primary(self) -> Readiness:
        # Reads go on when the disk is full, so the database answering proves nothing about it.
        if self._embedded_data is not None and self._disk_full(self._embedded_data):
            return Readiness(False, f"{DISK_FULL} (data in {self._embedded_data.resolve()})")
        try:
            async with self._engine().connect() as connection:
                current = (
                    await connection.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
                oldest = None
                if current is not None and current not in self._known:
                    oldest = await self._oldest_head(connection, current)
        except Exception as error:
            reason = unavailability(error)
            if reason is None:
                reason = f"the database cannot serve ({type(error).__name__})"
            return Readiness(False, reason)
        if current is None:
            return Readiness(False, SCHEMA_MISSING)
        found = standing(current, self._head, self._known, oldest)
        if not found.ready:
            return Readiness(False, found.reason, revision=current)
        return Readiness(True, "ok", revision=current, schema=found.reason)

    @staticmethod
    def _disk_full(data: Path) -> bool:
        try:
            return shutil.disk_usage(data).free < MIN_FREE_BYTES
        except OSError:  # not there yet: the database's own checks say why
            return False

    @staticmethod
    async def _oldest_head(connection: AsyncConnection, revision: str) -> str | None:
        # The record is absent on a database migrated before it existed: no record.
        exists = (
            await connection.execute(
                text("SELECT to_regclass(:name) IS NOT NULL"), {"name": COMPATIBILITY_TABLE}
            )
        ).scalar_one()
        if not exists:
            return None
        oldest: str | None = (
            await connection.execute(
                text(f"SELECT oldest_head FROM {COMPATIBILITY_TABLE} WHERE revision = :revision"),  # noqa: S608  (a constant)
                {"revision": revision},
            )
        ).scalar_one_or_none()
        return oldest
