from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from dependency_injector import providers

from infrastructure.container import Container
from infrastructure.settings import Settings
from interfaces.http.app import create_app

PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}

#: The connect timeout of apps on a server that answers: what those tests check is the cause
#: they name, and on a loaded machine connecting may take longer than the production default.
REACHABLE_CONNECT_TIMEOUT = 10


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("/problems/"), body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    text = response.text.lower()
    for leak in ("traceback", "sqlalchemy", "asyncpg", "psycopg", "select ", "insert ", 'file "'):
        assert leak not in text, f"{leak!r} leaked into {response.text}"
    return body


async def create(client: httpx.AsyncClient, sku: str = "w-1", **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/items", json={"sku": sku, "name": "Widget", "price": "12.50", **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` with another user and password (asyncpg URLs from tests/postgres.py)."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    return make_url(url).set(username=user, password=password).render_as_string(False)


def container_for(settings: Settings) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    return container


async def client_with(database_url: str, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, on `database_url` with these settings, started and stopped."""
    config = Settings(database_url=database_url, _env_file=None, **settings)  # type: ignore[arg-type]
    app = create_app(container_for(config))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
