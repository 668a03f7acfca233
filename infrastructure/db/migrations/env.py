"""Alembic environment: async engine, SQLModel metadata, and objects managed only by migrations.

Each migration runs in its own transaction with the runner's timeouts, and records the oldest
release head that can serve the schema it leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import infrastructure.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from infrastructure.db.migrator import (
    COMPATIBILITY_TABLE,
    CREATE_COMPATIBILITY_TABLE,
    MIGRATION_ONLY_INDEXES,
    MigrationError,
    migration_database_url,
    oldest_compatible,
    timeouts,
)

config = context.config
target_metadata = SQLModel.metadata
session_settings = timeouts()

_compatibility = sa.table(
    COMPATIBILITY_TABLE, sa.column("revision", sa.Text), sa.column("oldest_head", sa.Text)
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Indexes that need an optional extension (pg_trgm) live only in migrations; see 0001.
    # The compatibility record is the runner's, like alembic_version.
    _ = (obj, reflected, compare_to)
    if type_ == "table" and name == COMPATIBILITY_TABLE:
        return False
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def record_compatibility(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[str], run_args: Mapping[str, Any]
) -> None:
    """In the migration's own transaction: which release heads can serve where it leaves us."""
    _ = run_args
    revision_map = step.revision_map

    def parent(revision: str) -> str | None:
        script = revision_map.get_revision(revision)
        down = None if script is None else script.down_revision
        if down is not None and not isinstance(down, str):
            raise MigrationError(f"revision {revision}: merge revisions are not supported")
        return down

    def marker(revision: str) -> str:
        script = revision_map.get_revision(revision)
        return str(getattr(getattr(script, "module", None), "compatibility", None))

    for head in heads:
        oldest = oldest_compatible(head, parent, marker)
        ctx.execute(CREATE_COMPATIBILITY_TABLE)
        statement = postgresql.insert(_compatibility).values(revision=head, oldest_head=oldest)
        ctx.execute(
            statement.on_conflict_do_update(
                index_elements=["revision"], set_={"oldest_head": oldest}
            )
        )


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        dialect_name="postgresql" if connection is None else None,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
        # A migration that fails (a lock not granted) rolls back alone; those before it stay.
        transaction_per_migration=True,
        on_version_apply=record_compatibility,
    )


def run_offline() -> None:
    _configure()
    for name, value in session_settings.items():
        context.execute(f"SET {name} = '{value}'")
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(
        migration_database_url(config),
        poolclass=pool.NullPool,
        # Session settings from the connection's start, before any statement.
        connect_args={"server_settings": session_settings},
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


def run_online() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
        return
    # Called from code already inside an event loop (an app's start-up): a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, _run_async()).result()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
