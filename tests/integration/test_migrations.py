"""Migrations: every revision goes up, down and up again; models and migrations agree."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from infrastructure.db import migrator
from tests.postgres import PostgresServer


@pytest.fixture
def scratch_database(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("stockroom_migrations")
    yield name
    pg_server.drop_database(name)


def tables(pg_server: PostgresServer, database: str) -> set[str]:
    with psycopg.connect(pg_server.libpq_url_for(database)) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows} - {"alembic_version"}


def test_every_revision_upgrades_downgrades_and_upgrades_again(
    pg_server: PostgresServer, scratch_database: str
) -> None:
    url = pg_server.url_for(scratch_database)
    revisions = migrator.revisions()
    assert revisions, "no migrations found"
    previous = "base"
    for revision in revisions:
        migrator.upgrade(url, revision)
        after_upgrade = tables(pg_server, scratch_database)
        migrator.downgrade(url, previous)
        migrator.upgrade(url, revision)
        assert tables(pg_server, scratch_database) == after_upgrade
        assert migrator.current(url).startswith(revision)
        previous = revision
    migrator.downgrade(url, "base")
    assert tables(pg_server, scratch_database) == set()


def test_models_and_migrations_do_not_drift(database_url: str) -> None:
    migrator.check(database_url)


def test_a_model_change_without_a_migration_is_detected(
    pg_server: PostgresServer, scratch_database: str
) -> None:
    url = pg_server.url_for(scratch_database)
    migrator.upgrade(url, "head")
    with psycopg.connect(pg_server.libpq_url_for(scratch_database), autocommit=True) as conn:
        conn.execute("ALTER TABLE items ADD COLUMN colour text")
    with pytest.raises(migrator.SchemaDrift):
        migrator.check(url)


def test_the_database_enforces_the_quantity_check(database_dsn: str) -> None:
    with psycopg.connect(database_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO items (id, sku, name, price, quantity, version, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'X', 'x', 1, -1, 1, now(), now())"
        )


def test_the_head_read_for_readiness_is_alembics_head() -> None:
    assert migrator.head_revision() == migrator.alembic_head_revision() is not None
