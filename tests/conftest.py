"""Shared fixtures: one PostgreSQL per session, a fresh migrated database, isolation per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infrastructure.db import schema
from tests.postgres import HOW_TO_PROVIDE, NoDatabase, PostgresServer, postgres_server

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / ".pytest-db-report.json"
DB_TEST_DIRS = frozenset({"integration", "api", "cli", "faults"})

_report: dict[str, Any] = {"source": None, "db_tests_passed": 0, "db_tests_failed": 0}


def pytest_sessionstart(session: pytest.Session) -> None:
    REPORT.unlink(missing_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(ROOT / "tests").parts
        if parts and parts[0] in DB_TEST_DIRS:
            item.add_marker(pytest.mark.db)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "db" not in report.keywords:
        return
    if report.failed:
        _report["db_tests_failed"] += 1
    elif report.when == "call" and report.passed:
        _report["db_tests_passed"] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Read by .ci/run: proof that the database tests ran, and against what.
    REPORT.write_text(json.dumps(_report, indent=2) + "\n")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            _report.update(
                source=server.source, image=server.image, server_version=server.server_version()
            )
            yield server
    except NoDatabase as exc:
        pytest.exit(f"no PostgreSQL for the database tests: {exc}; {HOW_TO_PROVIDE}", returncode=1)


@pytest.fixture(scope="session")
def database_name(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database for this run, built by the migrations (never create_all)."""
    name = pg_server.create_database("stockroom_test")
    schema.upgrade(pg_server.url_for(name))
    yield name
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def database_url(pg_server: PostgresServer, database_name: str) -> str:
    """The asyncpg URL of the test database."""
    return pg_server.url_for(database_name)


@pytest.fixture(scope="session")
def database_dsn(pg_server: PostgresServer, database_name: str) -> str:
    """The libpq URL of the test database, for tests that inspect it with psycopg."""
    return pg_server.libpq_url_for(database_name)


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every database test leaves empty tables behind (each run starts on a fresh database)."""
    if request.node.get_closest_marker("db") is None:
        yield
        return
    dsn: str = request.getfixturevalue("database_dsn")
    yield
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE items, idempotency_keys")
