"""Fault-test fixtures: a cluster the tests may stop, fresh databases on it, real servers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import httpx
import pytest

from infrastructure.db import migrator
from tests.api.helpers import assert_problem
from tests.faults.cluster import Cluster, Database, PgBouncer, owned_tmpdir
from tests.servers import Server

TEMPLATE: Final = "stockroom_template"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """One throwaway cluster for the fault tests; a test that stops it starts it again."""
    cluster = Cluster(owned_tmpdir("stockroom-faults-"))
    try:
        cluster.init()
        cluster.start()
        # Migrated once; every test copies it (CREATE DATABASE ... TEMPLATE is a file copy).
        with cluster.connect() as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        migrator.upgrade(cluster.url(TEMPLATE))
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def database(cluster: Cluster) -> Iterator[Database]:
    cluster.ensure_running()
    database = Database(cluster, cluster.create_database("faults", template=TEMPLATE))
    yield database
    cluster.ensure_running()  # a failed outage test may have left it stopped
    cluster.drop_database(database.name)


@pytest.fixture
def pgbouncer(cluster: Cluster) -> Iterator[PgBouncer]:
    """PgBouncer (transaction pooling) in front of the cluster; missing pgbouncer fails."""
    bouncer = PgBouncer(cluster)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()


class Serve(Protocol):
    def __call__(self, env: Mapping[str, str | None], *args: str, ready: bool = True) -> Server: ...


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start `stockroom serve` processes; every one is killed at teardown, pass or fail."""
    started: list[Server] = []

    def start(env: Mapping[str, str | None], *args: str, ready: bool = True) -> Server:
        server = Server(env, *args, workdir=tmp_path)
        started.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()


def start_all(serve: Serve, *envs: Mapping[str, str | None]) -> list[Server]:
    """Start servers side by side (start-up dominates these tests), then wait for each."""
    servers = [serve(env, ready=False) for env in envs]
    for server in servers:
        server.wait_ready()
    return servers


def service_env(url: str, **settings: str) -> dict[str, str | None]:
    """The environment of a server on `url`; settings are STOCKROOM_* names without the prefix."""
    return {
        "STOCKROOM_DATABASE_URL": url,
        **{f"STOCKROOM_{name.upper()}": value for name, value in settings.items()},
    }


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 503)
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    return body


def new_item(sku: str, quantity: int = 10) -> dict[str, Any]:
    return {"sku": sku, "name": "Fault", "price": "1.00", "quantity": quantity}
