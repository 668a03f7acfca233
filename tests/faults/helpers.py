"""What the fault tests share beside their fixtures: server environments, timings, answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from tests.api.helpers import assert_problem
from tests.servers import Server


class Serve(Protocol):
    def __call__(self, env: Mapping[str, str | None], *args: str, ready: bool = True) -> Server: ...


def start_all(serve: Serve, *envs: Mapping[str, str | None]) -> list[Server]:
    """Start servers side by side (start-up dominates these tests), then wait for each."""
    servers = [serve(env, ready=False) for env in envs]
    for server in servers:
        server.wait_ready()
    return servers


def service_env(url: str, **settings: str) -> dict[str, str | None]:
    """The environment of a server on `url`; settings are STOCKROOM_* names without the prefix."""
    return {
        "STOCKROOM_DATABASE_URL": url,
        **{f"STOCKROOM_{name.upper()}": value for name, value in settings.items()},
    }


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 503)
    assert response.headers.get("retry-after", "").isdigit(), response.headers
    return body


def new_item(sku: str, quantity: int = 10) -> dict[str, Any]:
    return {"sku": sku, "name": "Fault", "price": "1.00", "quantity": quantity}
