from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from infrastructure.container import Container
from infrastructure.settings import Settings
from interfaces.http.app import create_app
from tests.api.helpers import container_for


@pytest.fixture(scope="session")
def container(settings: Settings) -> Container:
    """The container the session's app is built from."""
    return container_for(settings)


@pytest.fixture(scope="session")
async def app(container: Container) -> AsyncIterator[FastAPI]:
    """The app, shared by the session, without background tasks: nothing of its own is in flight
    on the event loop between requests (tests call its idempotency purger themselves)."""
    app = create_app(container, purge_in_background=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://stockroom.test") as client:
        yield client
