"""What every request gets: problem+json errors, request ids, limits, health."""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from infrastructure.settings import Settings
from interfaces.http.app import create_app
from tests.api.helpers import assert_problem, container_for


async def test_every_response_has_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert len(response.headers["x-request-id"]) >= 16
    assert response.headers["x-content-type-options"] == "nosniff"
    echoed = await client.get("/health/live", headers={"X-Request-ID": "abc-123.x"})
    assert echoed.headers["x-request-id"] == "abc-123.x"
    for insane in ["a" * 300, "bad id", "ü"]:
        replaced = await client.get("/health/live", headers=[(b"X-Request-ID", insane.encode())])
        assert replaced.headers["x-request-id"] != insane


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.get("/v1/items/"), 404)
    body = assert_problem(await client.put("/v1/items", json={}), 405)
    assert "PUT" in body["detail"]


async def test_malformed_json_is_422_and_non_json_is_415(client: httpx.AsyncClient) -> None:
    body = assert_problem(
        await client.post(
            "/v1/items", content=b"{bad", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert body["errors"][0]["pointer"] == ""
    assert_problem(
        await client.post("/v1/items", content=b"sku=x", headers={"content-type": "text/plain"}),
        415,
    )
    assert_problem(
        await client.post(
            "/v1/items", content=b"\xff\xfe", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert_problem(
        await client.post(
            "/v1/items/batch",
            content=b"\xc4\xa0ee\xff",
            headers={"content-type": "application/json"},
        ),
        422,
    )
    assert_problem(await client.post("/v1/items", json=[1, 2]), 422)
    assert_problem(await client.post("/v1/items", json="text"), 422)


async def test_bodies_over_1_mib_are_413(client: httpx.AsyncClient) -> None:
    big = b'{"sku": "' + b"a" * (1024 * 1024) + b'"}'
    assert_problem(
        await client.post("/v1/items", content=big, headers={"content-type": "application/json"}),
        413,
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b" " * 100_000

    assert_problem(
        await client.post(
            "/v1/items/batch", content=chunks(), headers={"content-type": "application/json"}
        ),
        413,
    )


async def test_an_unexpected_error_is_a_500_without_internals(settings: Settings) -> None:
    class Broken:
        async def __call__(self, *args: object) -> None:
            raise RuntimeError("secret internal detail: SELECT * FROM items")

    container = container_for(settings)
    container.get_item.override(Broken())  # before the app is built: it binds its use cases
    app = create_app(container, purge_in_background=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://stockroom.test") as client:
        response = await client.get("/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2")
    assert_problem(response, 500)
    assert "secret" not in response.text


async def test_health(app: FastAPI, client: httpx.AsyncClient) -> None:
    live = (await client.get("/health/live")).json()
    assert live == {"status": "ok", "version": importlib.metadata.version("stockroom")}
    assert app.version == live["version"]
    ready = (await client.get("/health/ready")).json()
    head = ready["schema"]["revision"]
    assert ready == {
        "status": "ready",
        "schema": {"revision": head, "state": "at head"},
        "replicas": [],
    }
