"""Migrations: every revision goes up, down and up again, dropping what it declares; models and
migrations agree; the runner records compatibility and waits for its locks only briefly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from infrastructure.db import migrator
from tests.cli.helpers import stockroom
from tests.migrations.release import CONTRACT, EXPAND, build_release
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
    return {row[0] for row in rows} - {"alembic_version", migrator.COMPATIBILITY_TABLE}


def columns(pg_server: PostgresServer, database: str) -> set[str]:
    with psycopg.connect(pg_server.libpq_url_for(database)) as conn:
        rows = conn.execute(
            "SELECT table_name || '.' || column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def declared_drops(revision: str) -> set[str]:
    script = ScriptDirectory(str(migrator.MIGRATIONS_DIR)).get_revision(revision)
    assert script is not None
    return set(script.module.downgrade_drops)


def compatibility_record(pg_server: PostgresServer, database: str) -> dict[str, str]:
    with psycopg.connect(pg_server.libpq_url_for(database)) as conn:
        rows = conn.execute("SELECT revision, oldest_head FROM schema_compatibility").fetchall()
    return dict(rows)


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
        before_down = tables(pg_server, scratch_database) | columns(pg_server, scratch_database)
        migrator.downgrade(url, previous)
        after_down = tables(pg_server, scratch_database) | columns(pg_server, scratch_database)
        # What the downgrade drops is what the revision declares (a table drops its columns).
        gone = before_down - after_down
        assert {g for g in gone if "." not in g or g.split(".")[0] not in gone} == (
            declared_drops(revision)
        )
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


def test_the_runner_records_the_oldest_head_serving_each_revision(
    pg_server: PostgresServer, scratch_database: str, tmp_path: Path
) -> None:
    url = pg_server.url_for(scratch_database)
    migrator.upgrade(url)
    head = migrator.head_revision()
    record = compatibility_record(pg_server, scratch_database)
    assert record["0001"] == "0001"  # the first revision: nothing older serves it
    assert record["0002"] == "0001"  # expand: the release at 0001 still serves it
    assert head in record
    # A newer release's runner: its expand revision is served from this head, its contract not.
    release = build_release(tmp_path)
    result = stockroom("db", "upgrade", env={"STOCKROOM_DATABASE_URL": url, **release})
    assert result.returncode == 0, result.stderr
    record = compatibility_record(pg_server, scratch_database)
    assert record[EXPAND] == record[head]
    assert record[CONTRACT] == CONTRACT
    # The newer release's revisions go down and up again, with their own runner.
    for args in (("downgrade", "--yes", head or "base"), ("upgrade", CONTRACT)):
        result = stockroom("db", *args, env={"STOCKROOM_DATABASE_URL": url, **release})
        assert result.returncode == 0, result.stderr


def test_offline_sql_sets_the_timeouts_and_records_compatibility() -> None:
    sql = migrator.offline_sql(None, "head")
    assert "SET lock_timeout = '500ms'" in sql
    assert "SET statement_timeout" in sql
    assert "INSERT INTO schema_compatibility" in sql


@pytest.fixture
def holder(pg_server: PostgresServer, scratch_database: str) -> Iterator[psycopg.Connection]:
    """The first revision applied, and a transaction that read `items` and stays open: its
    ACCESS SHARE lock lets reads and writes through, but no DDL on the table."""
    migrator.upgrade(pg_server.url_for(scratch_database), migrator.revisions()[0])
    with psycopg.connect(pg_server.libpq_url_for(scratch_database)) as conn:
        conn.execute("SELECT count(*) FROM items")
        yield conn


def test_a_migration_behind_a_lock_gives_up_and_is_retried(
    pg_server: PostgresServer, scratch_database: str, holder: psycopg.Connection
) -> None:
    retries: list[int] = []

    def release_the_lock(attempt: int, attempts: int, pause: float) -> None:
        retries.append(attempt)
        holder.rollback()

    # Dropping items needs its ACCESS EXCLUSIVE lock: the first attempt gives up, the next one
    # (after the holder is gone) goes through.
    migrator.downgrade(pg_server.url_for(scratch_database), "base", on_retry=release_the_lock)
    assert retries == [1]
    assert tables(pg_server, scratch_database) == set()


def test_a_lock_never_granted_is_one_clear_error(
    pg_server: PostgresServer, scratch_database: str, holder: psycopg.Connection
) -> None:
    url = pg_server.url_for(scratch_database)
    with pytest.raises(migrator.LockNotGranted, match="2 times") as raised:
        migrator.downgrade(url, "base", attempts=2)
    assert "\n" not in str(raised.value)
    # Nothing of it was applied, and nobody waits behind it any more.
    assert migrator.current(url).startswith(migrator.revisions()[0])
    holder.rollback()


def test_every_revision_declares_expand_or_contract_and_what_its_downgrade_drops() -> None:
    for script in ScriptDirectory(str(migrator.MIGRATIONS_DIR)).walk_revisions():
        module = script.module
        assert getattr(module, "compatibility", None) in migrator.COMPATIBILITIES, script.revision
        assert isinstance(getattr(module, "downgrade_drops", None), tuple), script.revision
