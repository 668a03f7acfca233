"""The OpenAPI document: every status each route can return, problem+json, clean operation ids."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from infrastructure.api_keys import Scope, new_key
from infrastructure.settings import Settings
from interfaces.http.app import create_app
from tests.api.helpers import container_for

EXPECTED = {
    ("post", "/v1/items"): {"201", "401", "403", "409", "413", "415", "422", "500", "503"},
    ("post", "/v1/items/batch"): {"201", "401", "403", "409", "413", "415", "422", "500", "503"},
    ("get", "/v1/items"): {"200", "400", "401", "422", "500", "503"},
    ("get", "/v1/items/{item_id}"): {"200", "304", "401", "404", "422", "500", "503"},
    ("patch", "/v1/items/{item_id}"): {
        "200",
        "401",
        "403",
        "404",
        "409",
        "412",
        "413",
        "415",
        "422",
        "500",
        "503",
    },
    ("delete", "/v1/items/{item_id}"): {"204", "401", "403", "404", "412", "422", "500", "503"},
    ("post", "/v1/items/{item_id}/stock-adjustments"): {
        "200",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "500",
        "503",
    },
    ("get", "/health/ready"): {"200", "500", "503"},
}


@pytest.fixture(scope="module")
def secured_app() -> FastAPI:
    _, key = new_key("docs", Scope.WRITE)
    settings = Settings(
        database_url="postgresql+asyncpg://u:p@127.0.0.1:1/x",
        api_keys=[key.entry()],
        _env_file=None,
    )
    return create_app(container_for(settings))


async def document(app: FastAPI) -> dict[str, object]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body: dict[str, object] = (await client.get("/openapi.json")).json()
    return body


async def test_every_route_documents_its_statuses_as_problems(secured_app: FastAPI) -> None:
    paths = (await document(secured_app))["paths"]
    assert isinstance(paths, dict)
    for (method, path), statuses in EXPECTED.items():
        operation = paths[path][method]
        assert set(operation["responses"]) == statuses, (method, path)
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, status)
        assert re.fullmatch(r"[a-z][A-Za-z]+", operation["operationId"]), operation["operationId"]
        assert bool(operation.get("security")) == path.startswith("/v1/"), (method, path)


async def test_bodies_have_examples_and_creation_links(secured_app: FastAPI) -> None:
    doc = await document(secured_app)
    schemas = doc["components"]["schemas"]  # type: ignore[index]
    for name in ("ItemCreate", "ItemUpdate", "StockAdjustment"):
        assert schemas[name].get("examples"), name
    links = doc["paths"]["/v1/items"]["post"]["responses"]["201"]["links"]  # type: ignore[index]
    assert {link["operationId"] for link in links.values()} == {
        "getItem",
        "updateItem",
        "deleteItem",
        "adjustStock",
    }


async def test_an_open_service_documents_no_security(database_url: str) -> None:
    app = create_app(container_for(Settings(database_url=database_url, _env_file=None)))
    paths = (await document(app))["paths"]
    operation = paths["/v1/items"]["post"]  # type: ignore[index]
    assert "security" not in operation
    assert "401" not in operation["responses"]


async def cors_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url,
        cors_origins=["https://shop.example"],
        # With keys required: a preflight carries no credentials and must still pass.
        api_keys=[new_key("cors", Scope.READ)[1].entry()],
        _env_file=None,
    )
    app = create_app(container_for(settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_cors_origins_come_from_configuration(database_url: str) -> None:
    async for client in cors_client(database_url):
        preflight = await client.options(
            "/v1/items",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        other = await client.options(
            "/v1/items",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
