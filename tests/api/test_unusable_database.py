"""A database that answers but cannot serve: 503 with Retry-After, the cause named to the operator
(/health/ready and the log), never to the client; recovery once fixed, without a restart."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql

from infrastructure.db import migrator
from tests.api.helpers import (
    REACHABLE_CONNECT_TIMEOUT,
    assert_problem,
    client_with,
    with_credentials,
)
from tests.postgres import PostgresServer

ITEM = {"sku": "u-1", "name": "Widget", "price": "1.00"}


async def assert_unusable(
    client: httpx.AsyncClient, cause: str, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    ready = assert_problem(await client.get("/health/ready"), 503)
    assert cause in ready["detail"]
    for response in [
        await client.get("/v1/items"),
        await client.get("/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2"),
        await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k"}),
    ]:
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "1"
        assert secret not in response.text
        assert cause not in response.text  # the operator's business, not the client's
    logged = "".join(capsys.readouterr())
    access_lines = [line for line in logged.splitlines() if "stockroom.access" in line]
    assert any("503" in line and cause in line for line in access_lines), logged
    assert secret not in logged


async def assert_serving(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/ready")).status_code == 200
    created = await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k"})
    assert created.status_code == 201, created.text
    assert (await client.get("/v1/items")).json()["items"][0]["sku"] == "U-1"


@pytest.fixture
def fresh_name(pg_server: PostgresServer) -> Iterator[str]:
    """A database name nobody uses (the database does not exist until a test creates it)."""
    name = f"stockroom_unusable_{secrets.token_hex(4)}"
    yield name
    pg_server.drop_database(name)


def admin(pg_server: PostgresServer, statement: sql.Composed) -> None:
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(statement)


async def test_a_missing_database_is_503_until_created_and_migrated(
    pg_server: PostgresServer, fresh_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_server.url_for(fresh_name)
    secret = url.split(":")[2].split("@")[0]
    async for client in client_with(url, connect_timeout=REACHABLE_CONNECT_TIMEOUT):
        await assert_unusable(client, "does not exist", capsys, secret)
        # Blocking calls run off the event loop, where the app's background purge may hold a
        # lock mid-transaction: on the loop, a statement waiting for it would wait forever.
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(fresh_name))
        await asyncio.to_thread(admin, pg_server, create)
        await assert_unusable(client, "schema is missing", capsys, secret)
        await asyncio.to_thread(migrator.upgrade, url, migrator.revisions()[0])
        if len(migrator.revisions()) > 1:
            ready = assert_problem(await client.get("/health/ready"), 503)
            assert "behind the migrations' head" in ready["detail"]
            # The first revision has no idempotency table: a keyed write cannot be served.
            keyed = await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k"})
            assert_problem(keyed, 503)
        await asyncio.to_thread(migrator.upgrade, url)
        await assert_serving(client)


async def test_refused_credentials_are_503_until_the_password_is_fixed(
    pg_server: PostgresServer, fresh_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"r_{secrets.token_hex(4)}"
    admin(
        pg_server,
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal("the-right-one")
        ),
    )
    try:
        admin(
            pg_server,
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(fresh_name), sql.Identifier(role)
            ),
        )
        migrator.upgrade(with_credentials(pg_server.url_for(fresh_name), role, "the-right-one"))
        wrong = "hunter2-wrong"
        async for client in client_with(
            with_credentials(pg_server.url_for(fresh_name), role, wrong),
            connect_timeout=REACHABLE_CONNECT_TIMEOUT,
        ):
            await assert_unusable(client, "authentication failed", capsys, wrong)
            fix = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(wrong)
            )
            await asyncio.to_thread(admin, pg_server, fix)
            await assert_serving(client)
    finally:
        pg_server.drop_database(fresh_name)
        admin(pg_server, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
