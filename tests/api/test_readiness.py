"""/health/ready says 503 unless the database answers and is migrated to head."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from infrastructure.db import migrator
from tests.api.helpers import REACHABLE_CONNECT_TIMEOUT, assert_problem, client_with
from tests.postgres import PostgresServer
from tests.support.ports import free_port


@pytest.fixture
def unmigrated_database(pg_server: PostgresServer) -> Iterator[str]:
    name = pg_server.create_database("stockroom_unmigrated")
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


async def test_not_ready_until_migrated_to_head(unmigrated_database: str) -> None:
    async for client in client_with(unmigrated_database, connect_timeout=REACHABLE_CONNECT_TIMEOUT):
        body = assert_problem(await client.get("/health/ready"), 503)
        assert "not migrated" in body["detail"]
        assert (await client.get("/health/live")).status_code == 200
        # Blocking calls run off the event loop, where the app's background purge may hold a
        # lock mid-transaction: on the loop, a migration waiting for it would wait forever.
        await asyncio.to_thread(migrator.upgrade, unmigrated_database, "head")
        assert (await client.get("/health/ready")).status_code == 200
        await asyncio.to_thread(migrator.downgrade, unmigrated_database, "base")
        await asyncio.to_thread(migrator.upgrade, unmigrated_database, migrator.revisions()[0])
        if len(migrator.revisions()) > 1:
            assert_problem(await client.get("/health/ready"), 503)


async def test_an_unreachable_database_is_503_with_retry_after() -> None:
    url = f"postgresql+asyncpg://stockroom:sup3rs3cret@127.0.0.1:{free_port()}/stockroom"
    async for client in client_with(url, connect_timeout=1):
        ready = assert_problem(await client.get("/health/ready"), 503)
        assert "does not answer" in ready["detail"]
        for response in [
            await client.get("/v1/items"),
            await client.post("/v1/items", json={"sku": "a", "name": "b", "price": 1}),
            await client.get("/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2"),
        ]:
            assert_problem(response, 503)
            assert response.headers["retry-after"] == "1"
            assert "sup3rs3cret" not in response.text
            assert "127.0.0.1" not in response.text
        assert (await client.get("/health/live")).status_code == 200
