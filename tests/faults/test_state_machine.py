"""Promise 9 (stateful part): random sequences of create / patch / adjust / delete through the
HTTP API keep the Item's invariants, checked against a plain model after every step.

The app runs in-process (httpx over ASGI, with its lifespan) on the session's test database; a
private event loop drives it because hypothesis' state machines are synchronous.
"""

from __future__ import annotations

import asyncio
import itertools
import string
from collections.abc import Iterator
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from infrastructure.container import Container
from infrastructure.settings import Settings
from interfaces.http.app import create_app

pytestmark = pytest.mark.slow

NAMES = st.text(string.ascii_letters + string.digits, min_size=1, max_size=30)
DESCRIPTIONS = st.none() | st.text(string.ascii_letters + " ", max_size=40).map(str.strip)
PRICES = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2).map(str)
QUANTITIES = st.integers(min_value=0, max_value=50)
DELTAS = st.integers(min_value=-30, max_value=30).filter(bool)
CHANGES = st.fixed_dictionaries(
    {},
    optional={"name": NAMES, "description": DESCRIPTIONS, "price": PRICES, "quantity": QUANTITIES},
).filter(bool)
FIELDS = ("sku", "name", "description", "price", "quantity", "version")


class Api:
    """Synchronous calls into the ASGI app, on a private loop (never the test session's)."""

    def __init__(self, database_url: str) -> None:
        container = Container()
        container.settings.override(
            providers.Object(Settings(database_url=database_url, pool_timeout=10, _env_file=None))
        )
        self._app = create_app(container)
        self._loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        self.client: httpx.AsyncClient | None = None

    def __enter__(self) -> Api:
        self._loop.run_until_complete(self._start())
        return self

    async def _start(self) -> None:
        await self._stack.enter_async_context(self._app.router.lifespan_context(self._app))
        transport = httpx.ASGITransport(app=self._app, raise_app_exceptions=False)
        self.client = await self._stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://stockroom.test")
        )

    def __exit__(self, *_: object) -> None:
        try:
            self._loop.run_until_complete(self._stack.aclose())
        finally:
            self._loop.close()

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None
        response = self._loop.run_until_complete(self.client.request(method, path, **kwargs))
        assert response.status_code < 500, response.text
        return response


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    with Api(database_url) as api:
        yield api


def test_random_operation_sequences_keep_the_invariants(api: Api, database_dsn: str) -> None:
    skus = itertools.count()

    class ItemLifecycle(RuleBasedStateMachine):
        items = Bundle("items")

        def __init__(self) -> None:
            super().__init__()
            #: id -> the fields the service must report (price as its 2-decimal string).
            self.model: dict[str, dict[str, Any]] = {}

        def teardown(self) -> None:
            with psycopg.connect(database_dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE items")

        @rule(target=items, name=NAMES, description=DESCRIPTIONS, price=PRICES, qty=QUANTITIES)
        def create(self, name: str, description: str | None, price: str, qty: int) -> str:
            body: dict[str, Any] = {"sku": f"sm-{next(skus)}", "name": name, "price": price}
            body |= {"description": description, "quantity": qty}
            response = api("POST", "/v1/items", json=body)
            assert response.status_code == 201, response.text
            item = response.json()
            expected = {**body, "sku": body["sku"].upper(), "version": 1}
            expected["price"] = f"{Decimal(price):.2f}"
            assert {f: item[f] for f in FIELDS} == expected
            self.model[item["id"]] = expected
            return str(item["id"])

        @rule(item_id=items, changes=CHANGES, stale=st.booleans())
        def patch(self, item_id: str, changes: dict[str, Any], stale: bool) -> None:
            current = self.model.get(item_id)
            headers = {}
            if current is not None:
                version = current["version"] + (1 if stale else 0)
                headers["If-Match"] = f'"{version}"'
            response = api("PATCH", f"/v1/items/{item_id}", json=changes, headers=headers)
            if current is None:
                assert response.status_code == 404, response.text
                return
            if stale:
                assert response.status_code == 412, response.text
                return
            assert response.status_code == 200, response.text
            current.update(changes, version=current["version"] + 1)
            if "price" in changes:
                current["price"] = f"{Decimal(changes['price']):.2f}"
            assert response.headers["etag"] == f'"{current["version"]}"'

        @rule(item_id=items, delta=DELTAS)
        def adjust(self, item_id: str, delta: int) -> None:
            current = self.model.get(item_id)
            response = api("POST", f"/v1/items/{item_id}/stock-adjustments", json={"delta": delta})
            if current is None:
                assert response.status_code == 404, response.text
            elif current["quantity"] + delta < 0:
                assert response.status_code == 409, response.text
                assert response.json()["type"].endswith("insufficient-stock")
            else:
                assert response.status_code == 200, response.text
                current["quantity"] += delta
                current["version"] += 1

        @rule(item_id=items, stale=st.booleans())
        def delete(self, item_id: str, stale: bool) -> None:
            current = self.model.get(item_id)
            headers = {"If-Match": f'"{current["version"] + 1}"'} if current and stale else {}
            response = api("DELETE", f"/v1/items/{item_id}", headers=headers)
            if current is None:
                assert response.status_code == 404, response.text
            elif stale:
                assert response.status_code == 412, response.text
            else:
                assert response.status_code == 204, response.text
                del self.model[item_id]

        @invariant()
        def the_service_agrees_with_the_model(self) -> None:
            listed = api("GET", "/v1/items", params={"limit": 200})
            assert listed.status_code == 200, listed.text
            stored = {item["id"]: item for item in listed.json()["items"]}
            assert stored.keys() == self.model.keys()
            for item_id, item in stored.items():
                assert item["quantity"] >= 0
                assert {f: item[f] for f in FIELDS} == self.model[item_id]

    run_state_machine_as_test(
        ItemLifecycle,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
