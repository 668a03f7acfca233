"""/health/ready says 200 when the database answers and its schema is one this release serves
(at head, or ahead by expand revisions of a newer release), 503 naming the cause otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from infrastructure.db import migrator
from tests.api.helpers import REACHABLE_CONNECT_TIMEOUT, assert_problem, client_with
from tests.cli.helpers import stockroom
from tests.migrations.release import CONTRACT, EXPAND, EXPAND_INDEX, build_release
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
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["schema"] == {
            "revision": migrator.head_revision(),
            "state": "at head",
        }
        await asyncio.to_thread(migrator.downgrade, unmigrated_database, "base")
        await asyncio.to_thread(migrator.upgrade, unmigrated_database, migrator.revisions()[0])
        if len(migrator.revisions()) > 1:
            behind = assert_problem(await client.get("/health/ready"), 503)
            assert "behind" in behind["detail"]
            assert "stockroom db upgrade" in behind["detail"]


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


def next_release_upgrade(url: str, release: dict[str, str], revision: str) -> None:
    """`stockroom db upgrade REVISION` as the newer release runs it."""
    result = stockroom("db", "upgrade", revision, env={"STOCKROOM_DATABASE_URL": url, **release})
    assert result.returncode == 0, result.stderr


async def test_a_schema_ahead_by_expand_revisions_is_served_ahead_by_a_contract_is_not(
    unmigrated_database: str, tmp_path: Path
) -> None:
    release = build_release(tmp_path)
    async for client in client_with(unmigrated_database, connect_timeout=REACHABLE_CONNECT_TIMEOUT):
        await asyncio.to_thread(migrator.upgrade, unmigrated_database)
        for revision in (EXPAND, EXPAND_INDEX):
            await asyncio.to_thread(next_release_upgrade, unmigrated_database, release, revision)
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["schema"] == {
                "revision": revision,
                "state": "ahead by compatible revisions",
            }
            await serves_everything(client, revision)
        await asyncio.to_thread(next_release_upgrade, unmigrated_database, release, CONTRACT)
        ahead = assert_problem(await client.get("/health/ready"), 503)
        assert f"ahead of this release (at {CONTRACT})" in ahead["detail"]
        assert "cannot serve" in ahead["detail"]


async def serves_everything(client: httpx.AsyncClient, tag: str) -> None:
    """The release's API on a schema a newer release expanded: every kind of request."""
    key = {"Idempotency-Key": f"k-{tag}"}
    body = {"sku": f"x-{tag}", "name": "Old", "price": "1.00", "quantity": 5}
    created = await client.post("/v1/items", json=body, headers=key)
    assert created.status_code == 201, created.text
    item: dict[str, Any] = created.json()
    replayed = await client.post("/v1/items", json=body, headers=key)
    assert replayed.headers.get("idempotent-replayed") == "true"
    path = f"/v1/items/{item['id']}"
    assert (await client.get(path)).status_code == 200
    for sort in ("created_at", "-name", "price", "-sku"):
        listed = await client.get("/v1/items", params={"sort": sort, "q": "x-", "limit": 1})
        assert listed.status_code == 200, listed.text
    patched = await client.patch(path, json={"name": "New"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    adjusted = await client.post(
        f"{path}/stock-adjustments", json={"delta": -2}, headers={"Idempotency-Key": f"a-{tag}"}
    )
    assert adjusted.json()["quantity"] == 3, adjusted.text
    batch = {"items": [{"sku": f"b-{tag}-{n}", "name": "B", "price": 1} for n in range(3)]}
    assert (await client.post("/v1/items/batch", json=batch)).status_code == 201
    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404


async def test_a_revision_unknown_and_unrecorded_is_not_served(
    unmigrated_database: str, pg_server: PostgresServer
) -> None:
    async for client in client_with(unmigrated_database, connect_timeout=REACHABLE_CONNECT_TIMEOUT):
        await asyncio.to_thread(migrator.upgrade, unmigrated_database)
        name = unmigrated_database.rsplit("/", 1)[1]
        with psycopg.connect(pg_server.libpq_url_for(name), autocommit=True) as conn:
            conn.execute("UPDATE alembic_version SET version_num = 'f00d_unknown'")
        body = assert_problem(await client.get("/health/ready"), 503)
        assert "at revision f00d_unknown, which this release does not know" in body["detail"]
        assert "behind" not in body["detail"]
