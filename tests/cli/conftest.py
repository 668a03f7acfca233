"""CLI-test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer


@pytest.fixture
def scratch_url(pg_server: PostgresServer) -> Iterator[str]:
    """An empty, unmigrated database of the test's own."""
    name = pg_server.create_database("stockroom_cli")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)
