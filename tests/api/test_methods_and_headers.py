"""HEAD and Allow, bodies without a Content-Type, CORS on every answer, one Authorization."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from infrastructure.api_keys import Scope, new_key
from tests.api.helpers import assert_problem, client_with, create

ORIGIN = "https://shop.example"
READ_SECRET, READ_KEY = new_key("reader", Scope.READ)
WRITE_SECRET, WRITE_KEY = new_key("writer", Scope.WRITE)


async def test_every_get_route_answers_head_with_the_headers_of_get(
    client: httpx.AsyncClient,
) -> None:
    item = await create(client)
    for path in [
        f"/v1/items/{item['id']}",
        "/v1/items?limit=1",
        "/health/live",
        "/health/ready",
        "/openapi.json",
    ]:
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)
    metrics = await client.head("/metrics")  # its body changes with every request
    assert metrics.status_code == 200
    assert metrics.content == b""
    missing = await client.head("/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2")
    assert missing.status_code == 404
    assert missing.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/v1/items", "GET, HEAD, POST"),
        ("GET", "/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2/stock-adjustments", "POST"),
        ("DELETE", "/health/live", "GET, HEAD"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 405)
    assert response.headers["allow"] == allow


async def test_a_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    body = b'{"sku": "a", "name": "b", "price": "1"}'
    response = await client.post("/v1/items", content=body)
    assert "content-type" not in response.request.headers
    assert_problem(response, 415)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    assert_problem(await client.post("/v1/items", content=chunks()), 415)
    assert_problem(await client.post("/v1/items"), 422)  # no body at all: the body is missing


async def test_an_error_about_the_whole_body_points_at_it_with_the_empty_pointer(
    client: httpx.AsyncClient,
) -> None:
    for content in [b"[1, 2]", b'"text"', b"null", b""]:
        response = await client.post(
            "/v1/items", content=content, headers={"content-type": "application/json"}
        )
        problem = assert_problem(response, 422)
        assert [e["pointer"] for e in problem["errors"]] == [""], content


@pytest.fixture
async def cors(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_with(
        database_url,
        cors_origins=[ORIGIN],
        api_keys=[READ_KEY.entry(), WRITE_KEY.entry()],
        max_body_bytes=1024,
    ):
        yield client


async def test_every_answer_to_an_allowed_origin_carries_cors_headers(
    cors: httpx.AsyncClient,
) -> None:
    origin = {"Origin": ORIGIN}
    write = {**origin, "Authorization": f"Bearer {WRITE_SECRET}"}
    answers = {
        401: await cors.post("/v1/items", json={}, headers=origin),
        403: await cors.post(
            "/v1/items", json={}, headers={**origin, "Authorization": f"Bearer {READ_SECRET}"}
        ),
        413: await cors.post("/v1/items", json={"sku": "x" * 2000}, headers=write),
        415: await cors.post(
            "/v1/items", content=b"x", headers={**write, "content-type": "text/plain"}
        ),
        400: await cors.get(
            "/v1/items",
            headers=[("Origin", ORIGIN), ("Authorization", "a"), ("Authorization", "b")],
        ),
        404: await cors.get("/nowhere", headers=origin),
        422: await cors.post("/v1/items", json={}, headers=write),
    }
    for status, response in answers.items():
        assert_problem(response, status)
        assert response.headers["access-control-allow-origin"] == ORIGIN, status
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_a_preflight_from_another_origin_is_a_403_problem(cors: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await cors.options("/v1/items", headers={**preflight, "Origin": ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = await cors.options(
        "/v1/items", headers={**preflight, "Origin": "https://evil.example"}
    )
    problem = assert_problem(refused, 403)
    assert "origin" in problem["detail"]
    assert "access-control-allow-origin" not in refused.headers


async def test_more_than_one_authorization_header_is_400(database_url: str) -> None:
    async for client in client_with(database_url, api_keys=[WRITE_KEY.entry()]):
        valid = f"Bearer {WRITE_SECRET}"
        for pair in [("Bearer bogus", valid), (valid, valid), (valid, "Bearer bogus")]:
            headers = [("Authorization", value) for value in pair]
            assert_problem(await client.get("/v1/items", headers=headers), 400)
            assert_problem(await client.get("/health/live", headers=headers), 400)
        assert (await client.get("/v1/items", headers={"Authorization": valid})).status_code == 200
