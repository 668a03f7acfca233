"""Fault-test fixtures: a cluster the tests may stop, fresh databases on it, real servers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from infrastructure.db import migrator
from tests.faults.balancer import Balancer
from tests.faults.cluster import SETTINGS, Database, PgBouncer
from tests.faults.helpers import Serve
from tests.servers import Server
from tests.support.cluster import Cluster, owned_tmpdir

TEMPLATE: Final = "stockroom_template"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """One throwaway cluster for the fault tests; a test that stops it starts it again."""
    cluster = Cluster(owned_tmpdir("stockroom-faults-"), settings=SETTINGS)
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


@pytest.fixture(scope="module")
def module_database(cluster: Cluster) -> Iterator[Database]:
    """One database for a module whose tests share a server; each test keeps to its own rows."""
    cluster.ensure_running()
    database = Database(cluster, cluster.create_database("module", template=TEMPLATE))
    yield database
    cluster.ensure_running()
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


@pytest.fixture
def balancer() -> Iterator[list[Balancer]]:
    """HAProxy processes the test started; stopped at teardown, pass or fail."""
    started: list[Balancer] = []
    yield started
    for lb in started:
        lb.stop()
