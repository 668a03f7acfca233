"""Where the database tests get PostgreSQL: testcontainers by default, TEST_DATABASE_URL if set.

One server serves the whole run, every xdist worker included: the first process that needs it
starts it under a file lock in the run's state directory, migrates a template database once and
records both in a state file; every worker then copies its own database from the template
(`CREATE DATABASE ... TEMPLATE` is a file copy, far cheaper than migrating). The main process,
which outlives the workers, stops the server at the end of the run (`release_shared_server`).
"""

from __future__ import annotations

import json
import os
import secrets
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import psycopg
from filelock import FileLock
from psycopg import sql
from sqlalchemy.engine import make_url

from infrastructure.db import migrator
from tests.support.cluster import HARNESS_OPTIONS, create_database, drop_database

DEFAULT_IMAGE: Final = "postgres:16-alpine"
#: The tables every database test empties behind it.
TABLES: Final = (
    "items",
    "idempotency_keys",
    "item_events",
    "item_events_horizon",
    "webhook_subscriptions",
    "webhook_deliveries",
    "webhook_fanout",
)
#: The state file, in the run's state directory.
_STATE: Final = "postgres.json"
#: The container is thrown away with the run, so nothing needs to reach its disk: without these
#: every commit and every TRUNCATE between tests waits for an fsync (about 0.1 s each on these
#: machines, once per database test at least).
#: PostgreSQL's default of 100 connections is less than the workers' pools, the commands they
#: start and the concurrency tests' own sessions can hold at once.
CONTAINER_SETTINGS: Final = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=300",
)

# Connect to published ports on localhost (not the bridge address a containerised runner would
# pick), and skip Ryuk where its image cannot be pulled: the main process stops the container.
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

    @contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(
            self.dsn, autocommit=True, connect_timeout=10, options=HARNESS_OPTIONS
        ) as conn:
            yield conn

    def server_version(self) -> str:
        with self._admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def create_database(self, prefix: str, *, template: str | None = None) -> str:
        with self._admin() as conn:
            return create_database(conn, prefix, template=template)

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            drop_database(conn, name)


@dataclass(frozen=True)
class SharedServer:
    """The run's server as the state file records it."""

    server: PostgresServer
    server_version: str
    #: A database the migrations built; test databases are copies of it.
    template: str
    #: The container to stop at the end of the run (None: TEST_DATABASE_URL's server).
    container_id: str | None


def shared_server(state_dir: Path) -> SharedServer:
    """The run's server: started (and its template migrated) by the first caller of the run."""
    with FileLock(state_dir / "postgres.lock"):
        if not (state_dir / _STATE).exists():
            (state_dir / _STATE).write_text(json.dumps(_start()))
    return _recorded(state_dir)


def release_shared_server(state_dir: Path) -> SharedServer | None:
    """Stop the run's container (or drop the template from TEST_DATABASE_URL's server), if the
    run started one; what it was, for the run's report."""
    if not (state_dir / _STATE).exists():
        return None
    try:
        shared = _recorded(state_dir)
    except NoDatabase:
        return None
    if shared.container_id is not None:
        _stop_container(shared.container_id)
    else:
        shared.server.drop_database(shared.template)
    return shared


def _recorded(state_dir: Path) -> SharedServer:
    state: dict[str, Any] = json.loads((state_dir / _STATE).read_text())
    if "error" in state:
        raise NoDatabase(state["error"])
    return SharedServer(
        server=PostgresServer(**state["server"]),
        server_version=state["server_version"],
        template=state["template"],
        container_id=state["container_id"],
    )


def _start() -> dict[str, Any]:
    url = os.environ.get("TEST_DATABASE_URL")
    try:
        server, container_id = (
            (_from_url(url), None)
            if url
            else _from_container(os.environ.get("TEST_POSTGRES_IMAGE", DEFAULT_IMAGE))
        )
    except NoDatabase as exc:
        return {"error": str(exc)}
    template: str | None = None
    try:
        template = server.create_database("stockroom_template")
        migrator.upgrade(server.url_for(template))
        version = server.server_version()
    except Exception:
        # Recorded, so that no other worker tries again: every one fails with this traceback.
        if container_id is not None:
            _stop_container(container_id)
        elif template is not None:
            server.drop_database(template)
        return {"error": f"preparing the template database failed:\n{traceback.format_exc()}"}
    return {
        "server": asdict(server),
        "server_version": version,
        "template": template,
        "container_id": container_id,
    }


def _from_url(url: str) -> PostgresServer:
    server = PostgresServer(
        dsn=make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
        source="url",
        image=None,
    )
    try:
        server.server_version()
    except psycopg.Error as exc:
        raise NoDatabase(f"TEST_DATABASE_URL does not answer ({type(exc).__name__})") from None
    return server


def _from_container(image: str) -> tuple[PostgresServer, str]:
    try:
        # Imported here: with no Docker daemon answering, importing testcontainers can fail.
        from testcontainers.community.postgres import PostgresContainer  # noqa: PLC0415

        container = PostgresContainer(
            image,
            username="stockroom",
            password=secrets.token_hex(8),
            dbname="stockroom",
            driver=None,
        ).with_command(["postgres", *(arg for s in CONTAINER_SETTINGS for arg in ("-c", s))])
        container.start()
    except Exception as exc:
        raise NoDatabase(f"cannot start a PostgreSQL container ({type(exc).__name__})") from None
    server = PostgresServer(dsn=container.get_connection_url(), source="container", image=image)
    return server, str(container.get_wrapped_container().id)


def _stop_container(container_id: str) -> None:
    from testcontainers.core.docker_client import DockerClient  # noqa: PLC0415

    DockerClient().client.containers.get(container_id).remove(force=True, v=True)


class Tables:
    """Empties the tables of one database, through one connection kept open for it (a worker
    empties its tables after each of hundreds of tests: a connection each cost a backend's start).

    On the running event loop: whatever is in flight on it (a request of the app under test, a
    transaction a test left open) may hold a lock this waits for, and it can only finish if the
    loop keeps running meanwhile.
    """

    _TRUNCATE: Final = sql.SQL("TRUNCATE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, TABLES))
    )

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def empty(self) -> None:
        if self._conn is None or self._conn.closed:  # not yet, or a failure closed it
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=10, options=HARNESS_OPTIONS
            )
        await self._conn.execute(self._TRUNCATE)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
