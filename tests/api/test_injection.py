"""Each app's handlers run the use cases of the container it was built from, resolved once."""

from __future__ import annotations

import subprocess
import sys
from uuid import UUID

import httpx
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.routing import APIRoute

from domain.item import Item, NewItem
from infrastructure.settings import Settings
from interfaces.http.app import create_app
from tests.api.helpers import container_for

#: dependency-injector's own FastAPI wiring, in a process that loads the container first (as a
#: command does) and FastAPI only after.
WIRED_THROUGH_DEPENDS = """
import asyncio

from infrastructure.container import Container
from dependency_injector.wiring import Provide, inject
import httpx
from fastapi import Depends, FastAPI

from application.use_cases import GetItem

app = FastAPI()

@app.get("/")
@inject
async def read(get_item: GetItem = Depends(Provide[Container.get_item])) -> str:
    return type(get_item).__name__

async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        print((await client.get("/")).json())

Container().wire(modules=[__name__])
asyncio.run(main())
"""


async def test_apps_built_from_different_containers_each_use_their_own(
    settings: Settings,
) -> None:
    def app_whose_item_is_named(name: str) -> FastAPI:
        item = Item.create(NewItem.parse({"sku": "s-1", "name": name, "price": "1"}))

        class Found:
            async def __call__(self, item_id: UUID) -> Item:
                return item

        container = container_for(settings)
        container.get_item.override(Found())
        return create_app(container, purge_in_background=False)

    apps = {name: app_whose_item_is_named(name) for name in ("first", "second")}
    for name in ("first", "second", "first"):
        transport = httpx.ASGITransport(app=apps[name])
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/items/01a20242-a141-7574-9bd8-3cc9652ee0a2")
        assert response.status_code == 200, response.text
        assert response.json()["name"] == name


def test_no_route_solves_a_dependency_per_request(app: FastAPI) -> None:
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert {route.operation_id for route in routes} >= {"createItem", "ready", "metrics"}
    for route in routes:
        assert route.dependant.dependencies == [], route.path


def test_building_the_app_leaves_the_database_to_its_start(settings: Settings) -> None:
    """The handlers' use cases are resolved when the app is built, the engine only at start-up:
    resolving it may start and migrate the embedded database, which must not block the loop."""

    def not_yet() -> str:
        raise AssertionError("the database was prepared while the app was being built")

    container = container_for(settings)
    container.database_url.override(providers.Callable(not_yet))
    create_app(container)


def test_the_container_leaves_dependency_injectors_fastapi_wiring_working() -> None:
    """Loading the container hides nothing from dependency-injector: whoever copies it and
    injects with `Depends(Provide[...])` gets the use case."""
    result = subprocess.run(
        [sys.executable, "-c", WIRED_THROUGH_DEPENDS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "GetItem"), result.stderr
