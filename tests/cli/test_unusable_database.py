"""`stockroom items list` against a database that answers but cannot serve: one line, exit 1."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.api.helpers import with_credentials
from tests.cli.helpers import stockroom
from tests.postgres import PostgresServer

WRONG_PASSWORD = "hunter2-not-this-one"


@pytest.fixture
def unmigrated(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("stockroom_cli_unmigrated")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


@pytest.fixture
def missing(pg_server: PostgresServer) -> str:
    return pg_server.url_for(f"stockroom_cli_missing_{secrets.token_hex(4)}")


@pytest.fixture
def refused(pg_server: PostgresServer, database_name: str) -> Iterator[str]:
    role = f"r_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(secrets.token_hex(8))
            )
        )
    yield with_credentials(pg_server.url_for(database_name), role, WRONG_PASSWORD)
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    ("database", "cause"),
    [
        ("unmigrated", "schema is missing"),
        ("missing", "does not exist"),
        ("refused", "authentication failed"),
    ],
)
def test_an_unusable_database_is_one_error_line_and_exit_1(
    request: pytest.FixtureRequest, database: str, cause: str
) -> None:
    url: str = request.getfixturevalue(database)
    password = url.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    result = stockroom("items", "list", env={"STOCKROOM_DATABASE_URL": url})
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert cause in result.stderr
    assert password not in result.stderr
