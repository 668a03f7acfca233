"""What a route handler may be given, and how each app gives it.

A handler declares each thing it needs as a parameter typed with one of the aliases below
(`create: CreateItemDep`). FastAPI never sees those parameters: when an app is built, `Routes.build`
takes each from that app's own parts (its container, its metrics) once and binds it into the
handler. Every app builds its own routes, so apps built from different containers in one process
share nothing, and a request pays nothing for injection. (FastAPI solves a `Depends` again on
every request, which shows in the HTTP benchmark; dependency-injector's `Provide` marker is a plain
callable, which FastAPI would run in its thread pool, and its `wire()` patches modules for the
whole process.)

A provider overridden on the container after the app is built does not reach the handlers:
override first, then build the app.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from starlette.responses import Response

from application.use_cases import (
    AdjustStock,
    CreateItem,
    CreateItems,
    DeleteItem,
    GetItem,
    ListItems,
    UpdateItem,
)
from infrastructure.container import Container
from infrastructure.db.readiness import ReadinessProbe
from interfaces.http.idempotency import Writes
from interfaces.http.metrics import HttpMetrics

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class AppParts:
    """What one app's handlers may be given: its container's use cases and its own metrics."""

    container: Container
    metrics: HttpMetrics


@dataclass(frozen=True, slots=True)
class Provided:
    """Marks a handler parameter that the app fills in, once, when it is built."""

    take: Callable[[AppParts], object]


CreateItemDep = Annotated[CreateItem, Provided(lambda app: app.container.create_item())]
CreateItemsDep = Annotated[CreateItems, Provided(lambda app: app.container.create_items())]
GetItemDep = Annotated[GetItem, Provided(lambda app: app.container.get_item())]
ListItemsDep = Annotated[ListItems, Provided(lambda app: app.container.list_items())]
UpdateItemDep = Annotated[UpdateItem, Provided(lambda app: app.container.update_item())]
DeleteItemDep = Annotated[DeleteItem, Provided(lambda app: app.container.delete_item())]
AdjustStockDep = Annotated[AdjustStock, Provided(lambda app: app.container.adjust_stock())]
WritesDep = Annotated[Writes, Provided(lambda app: Writes(app.container.run_idempotently()))]
ReadinessDep = Annotated[ReadinessProbe, Provided(lambda app: app.container.readiness())]
MetricsRegistryDep = Annotated[CollectorRegistry, Provided(lambda app: app.metrics.registry)]


def bind(handler: Handler, parts: AppParts) -> Handler:
    """The handler with its provided parameters filled in from `parts`, and a signature that
    shows FastAPI only the rest (the request, path, query and body parameters)."""
    signature = inspect.signature(handler, eval_str=True)
    provided = {
        name: marker.take(parts)
        for name, parameter in signature.parameters.items()
        for marker in getattr(parameter.annotation, "__metadata__", ())
        if isinstance(marker, Provided)
    }
    bound = functools.update_wrapper(functools.partial(handler, **provided), handler)
    # inspect.signature, hence FastAPI, reads an explicit __signature__ before anything else.
    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name not in provided]
    )
    return bound


class Routes(APIRouter):
    """Routes declared with FastAPI's decorators, kept until an app is built: `build` makes that
    app's router, each handler bound to its parts. Only `build`'s router serves requests."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._options = options
        self._declared: list[tuple[str, Handler, dict[str, Any]]] = []

    def add_api_route(self, path: str, endpoint: Handler, **options: Any) -> None:
        self._declared.append((path, endpoint, options))

    def build(self, parts: AppParts) -> APIRouter:
        router = APIRouter(**self._options)
        for path, handler, options in self._declared:
            router.add_api_route(path, bind(handler, parts), **options)
        return router
