"""Where the database tests get PostgreSQL: testcontainers by default, TEST_DATABASE_URL if set."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_IMAGE: Final = "postgres:16-alpine"

# Connect to published ports on localhost (not the bridge address a containerised runner would
# pick), and skip Ryuk where its image cannot be pulled: the fixture stops its container itself.
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
HOW_TO_PROVIDE: Final = (
    "start a Docker engine (tests run PostgreSQL in testcontainers, image from "
    "TEST_POSTGRES_IMAGE) or set TEST_DATABASE_URL=postgresql://user:password@host:5432/db"
)


class NoDatabase(Exception):
    pass


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create databases on. `dsn` is a libpq URL to its admin database."""

    dsn: str
    source: str  # "container" or "url"
    image: str | None

    def url_for(self, database: str, *, driver: str = "asyncpg") -> str:
        url = make_url(self.dsn).set(drivername=f"postgresql+{driver}", database=database)
        return url.render_as_string(hide_password=False)

    def libpq_url_for(self, database: str) -> str:
        return (
            make_url(self.dsn)
            .set(drivername="postgresql", database=database)
            .render_as_string(hide_password=False)
        )

    def server_version(self) -> str:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _libpq(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def _from_url(url: str) -> Iterator[PostgresServer]:
    server = PostgresServer(dsn=_libpq(url), source="url", image=None)
    try:
        server.server_version()
    except psycopg.Error as exc:
        raise NoDatabase(f"TEST_DATABASE_URL does not answer ({type(exc).__name__})") from None
    yield server


@contextmanager
def _from_container(image: str) -> Iterator[PostgresServer]:
    try:
        # Imported here: with no Docker daemon answering, importing testcontainers can fail.
        from testcontainers.community.postgres import PostgresContainer  # noqa: PLC0415

        container = PostgresContainer(
            image,
            username="stockroom",
            password=secrets.token_hex(8),
            dbname="stockroom",
            driver=None,
        )
        container.start()
    except Exception as exc:
        raise NoDatabase(f"cannot start a PostgreSQL container ({type(exc).__name__})") from None
    try:
        yield PostgresServer(dsn=container.get_connection_url(), source="container", image=image)
    finally:
        container.stop()


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        with _from_url(url) as server:
            yield server
    else:
        with _from_container(os.environ.get("TEST_POSTGRES_IMAGE", DEFAULT_IMAGE)) as server:
            yield server
