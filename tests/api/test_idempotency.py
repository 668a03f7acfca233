"""Idempotency-Key: replay, mismatch, in-progress, retry after failure, retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from infrastructure.container import Container
from infrastructure.db.idempotency import _lock_id
from infrastructure.settings import Settings
from interfaces.http.app import create_app
from tests.api.helpers import assert_problem, container_for, create

ITEM = {"sku": "idem-1", "name": "Widget", "price": "1.00", "quantity": 5}


async def count_items(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/items?limit=200")).json()["items"])


async def test_a_repeat_is_replayed_with_the_same_status_and_body(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = await client.post("/v1/items", json=ITEM, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await client.post("/v1/items", json=dict(reversed(ITEM.items())), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    for name in ("location", "etag", "content-type"):
        assert again.headers[name] == first.headers[name]
    assert await count_items(client) == 1


async def test_the_same_key_with_a_different_body_is_422(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-2"}
    assert (await client.post("/v1/items", json=ITEM, headers=headers)).status_code == 201
    other = {**ITEM, "name": "Other"}
    body = assert_problem(await client.post("/v1/items", json=other, headers=headers), 422)
    assert body["type"] == "/problems/idempotency-key-reused"
    assert await count_items(client) == 1


async def test_a_repeat_while_the_first_runs_is_409_with_retry_after(
    client: httpx.AsyncClient, database_dsn: str
) -> None:
    # The lock a first request holds while it runs, held here instead.
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_lock_id("", "k-3"),))
        response = await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k-3"})
        # Released here: closing the connection releases it only once its backend has exited.
        conn.execute("SELECT pg_advisory_unlock(%s)", (_lock_id("", "k-3"),))
    body = assert_problem(response, 409)
    assert body["type"] == "/problems/idempotency-key-in-progress"
    assert response.headers["retry-after"] == "1"
    retried = await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k-3"})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


async def test_a_failed_request_does_not_burn_the_key(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-4"}
    assert_problem(
        await client.post("/v1/items", json={**ITEM, "price": "-1"}, headers=headers), 422
    )
    assert (await client.post("/v1/items", json=ITEM, headers=headers)).status_code == 201

    item = await create(client, "stock-1", quantity=0)
    url = f"/v1/items/{item['id']}/stock-adjustments"
    take = {"Idempotency-Key": "k-5"}
    assert_problem(await client.post(url, json={"delta": -1}, headers=take), 409)
    await client.post(url, json={"delta": 3})
    retried = await client.post(url, json={"delta": -1}, headers=take)
    assert retried.status_code == 200
    assert retried.json()["quantity"] == 2


async def test_stock_adjustments_and_batches_apply_once(client: httpx.AsyncClient) -> None:
    item = await create(client, "once-1", quantity=10)
    url = f"/v1/items/{item['id']}/stock-adjustments"
    for _ in range(3):
        response = await client.post(url, json={"delta": -4}, headers={"Idempotency-Key": "adj"})
        assert response.status_code == 200
        assert response.json()["quantity"] == 6
    batch = {"items": [{"sku": f"bt-{i}", "name": "n", "price": 1} for i in range(3)]}
    first = await client.post("/v1/items/batch", json=batch, headers={"Idempotency-Key": "bt"})
    again = await client.post("/v1/items/batch", json=batch, headers={"Idempotency-Key": "bt"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert await count_items(client) == 4


async def test_concurrent_identical_requests_create_one_item(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "race"})
            for _ in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    assert await count_items(client) == 1


async def test_keys_are_bounded(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "k" * 256})
    assert assert_problem(response, 422)["errors"][0]["parameter"] == "idempotency-key"


async def test_records_expire_after_the_retention_period(
    container: Container, client: httpx.AsyncClient, database_dsn: str
) -> None:
    headers = {"Idempotency-Key": "old"}
    assert (await client.post("/v1/items", json=ITEM, headers=headers)).status_code == 201
    purge = container.idempotency_purger()
    assert await purge() == 0  # fresh records are kept
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = %s",
            (datetime.now(UTC) - timedelta(hours=24, minutes=1),),
        )
    # An expired record is no longer replayed: the key runs the request again.
    assert_problem(await client.post("/v1/items", json=ITEM, headers=headers), 409)  # sku taken
    assert await purge() == 1


async def test_shutdown_lets_a_purge_under_way_finish_rather_than_cut_it(
    client: httpx.AsyncClient, settings: Settings, database_dsn: str
) -> None:
    """Cancelling a purge halfway could leave its connection checked out mid-statement,
    holding its transaction's locks after the app had shut down; now shutdown waits for it."""
    assert (
        await client.post("/v1/items", json=ITEM, headers={"Idempotency-Key": "old"})
    ).is_success
    deleting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE 'DELETE FROM idempotency_keys%'"
        " AND pid <> pg_backend_pid()"
    )
    async with await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as observer:

        async def scalar(query: str) -> int:
            row = await (await observer.execute(query)).fetchone()
            assert row is not None
            return int(row[0])

        await observer.execute(
            "UPDATE idempotency_keys SET created_at = %s",
            (datetime.now(UTC) - timedelta(hours=25),),
        )
        async with await psycopg.AsyncConnection.connect(database_dsn) as blocker:
            # The new app's start-up purge waits for this lock inside its DELETE.
            await blocker.execute("LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")
            app = create_app(container_for(settings))
            async with app.router.lifespan_context(app):
                for _ in range(100):
                    if await scalar(deleting):
                        break
                    await asyncio.sleep(0.02)
                assert await scalar(deleting) == 1
                release = asyncio.get_running_loop().call_later
                release(0.2, lambda: asyncio.ensure_future(blocker.rollback()))
            # Shut down: the purge completed (the expired record is gone), then every
            # connection of the app was closed.
            assert await scalar("SELECT count(*) FROM idempotency_keys") == 0
            for _ in range(100):
                if not await scalar(deleting):
                    break
                await asyncio.sleep(0.02)
            assert await scalar(deleting) == 0
