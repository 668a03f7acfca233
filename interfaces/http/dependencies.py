"""Use cases resolved from the container the application was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


# One dependency level per use case (no shared container dependency): FastAPI solves each
# dependency on every request, so fewer levels is less work per request.


async def _create_item(request: Request) -> CreateItem:
    return container_of(request).create_item()


async def _create_items(request: Request) -> CreateItems:
    return container_of(request).create_items()


async def _get_item(request: Request) -> GetItem:
    return container_of(request).get_item()


async def _list_items(request: Request) -> ListItems:
    return container_of(request).list_items()


async def _update_item(request: Request) -> UpdateItem:
    return container_of(request).update_item()


async def _delete_item(request: Request) -> DeleteItem:
    return container_of(request).delete_item()


async def _adjust_stock(request: Request) -> AdjustStock:
    return container_of(request).adjust_stock()


async def _readiness(request: Request) -> ReadinessProbe:
    return container_of(request).readiness()


CreateItemDep = Annotated[CreateItem, Depends(_create_item)]
CreateItemsDep = Annotated[CreateItems, Depends(_create_items)]
GetItemDep = Annotated[GetItem, Depends(_get_item)]
ListItemsDep = Annotated[ListItems, Depends(_list_items)]
UpdateItemDep = Annotated[UpdateItem, Depends(_update_item)]
DeleteItemDep = Annotated[DeleteItem, Depends(_delete_item)]
AdjustStockDep = Annotated[AdjustStock, Depends(_adjust_stock)]
ReadinessDep = Annotated[ReadinessProbe, Depends(_readiness)]
