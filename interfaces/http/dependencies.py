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


async def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(container_of)]


async def _create_item(c: ContainerDep) -> CreateItem:
    return c.create_item()


async def _create_items(c: ContainerDep) -> CreateItems:
    return c.create_items()


async def _get_item(c: ContainerDep) -> GetItem:
    return c.get_item()


async def _list_items(c: ContainerDep) -> ListItems:
    return c.list_items()


async def _update_item(c: ContainerDep) -> UpdateItem:
    return c.update_item()


async def _delete_item(c: ContainerDep) -> DeleteItem:
    return c.delete_item()


async def _adjust_stock(c: ContainerDep) -> AdjustStock:
    return c.adjust_stock()


async def _readiness(c: ContainerDep) -> ReadinessProbe:
    return c.readiness()


CreateItemDep = Annotated[CreateItem, Depends(_create_item)]
CreateItemsDep = Annotated[CreateItems, Depends(_create_items)]
GetItemDep = Annotated[GetItem, Depends(_get_item)]
ListItemsDep = Annotated[ListItems, Depends(_list_items)]
UpdateItemDep = Annotated[UpdateItem, Depends(_update_item)]
DeleteItemDep = Annotated[DeleteItem, Depends(_delete_item)]
AdjustStockDep = Annotated[AdjustStock, Depends(_adjust_stock)]
ReadinessDep = Annotated[ReadinessProbe, Depends(_readiness)]
