"""/v1/items: the Item's HTTP resource. Handlers translate HTTP to use-case calls and back."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status
from starlette.responses import Response

from application.listing import MAX_LIMIT, Q_MAX, Cursor, ListQuery, Sort
from interfaces.http.dependencies import (
    AdjustStockDep,
    CreateItemDep,
    CreateItemsDep,
    DeleteItemDep,
    GetItemDep,
    ListItemsDep,
    UpdateItemDep,
)
from interfaces.http.etags import etag, expected_version, none_match
from interfaces.http.openapi import problems
from interfaces.http.responses import item_response, json_response
from interfaces.http.schemas import (
    ItemCreate,
    ItemOut,
    ItemPage,
    ItemsBatchCreate,
    ItemsOut,
    ItemUpdate,
    StockAdjustment,
)
from interfaces.http.schemas import present_item as _present

router = APIRouter(prefix="/v1/items", tags=["items"])

IfMatch = Annotated[
    str | None, Header(description="Optional: the ETag of the version this change is based on.")
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createItem",
    summary="Create an item",
    response_model=ItemOut,
    responses=problems(409, 413, 415, 422),
)
async def create_item(body: ItemCreate, create: CreateItemDep) -> Response:
    item = await create(body.model_dump(exclude_unset=True))
    return item_response(item, status=201, headers={"Location": f"/v1/items/{item.id}"})


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    operation_id="createItems",
    summary="Create up to 1000 items, all or none",
    response_model=ItemsOut,
    responses=problems(409, 413, 415, 422),
)
async def create_items(body: ItemsBatchCreate, create: CreateItemsDep) -> Response:
    items = await create([row.model_dump(exclude_unset=True) for row in body.items])
    return json_response({"items": [_present(item) for item in items]}, status=201)


@router.get(
    "",
    operation_id="listItems",
    summary="List items, one keyset page at a time",
    response_model=ItemPage,
    responses=problems(400, 422),
)
async def list_items(
    request: Request,
    list_page: ListItemsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    sort: Sort = Sort.CREATED_AT,
    q: Annotated[str | None, Query(max_length=Q_MAX)] = None,
    min_price: Annotated[Decimal | None, Query(ge=0, lt=Decimal(10) ** 10)] = None,
    max_price: Annotated[Decimal | None, Query(ge=0, lt=Decimal(10) ** 10)] = None,
    in_stock: bool | None = None,
) -> Response:
    query = ListQuery(
        limit=limit,
        sort=sort,
        after=Cursor.decode(cursor, sort) if cursor else None,
        q=q or None,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
    )
    page = await list_page(query)
    headers = {}
    if page.next_cursor is not None:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", page.next_cursor))
        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    body = {"items": [_present(item) for item in page.items], "next_cursor": page.next_cursor}
    return json_response(body, headers=headers)


@router.get(
    "/{item_id}",
    operation_id="getItem",
    summary="Get an item",
    response_model=ItemOut,
    responses=problems(304, 404, 422),
)
async def get_item(
    item_id: UUID,
    get: GetItemDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    item = await get(item_id)
    if none_match(if_none_match, item.version):
        return Response(status_code=304, headers={"ETag": etag(item.version)})
    return item_response(item)


@router.patch(
    "/{item_id}",
    operation_id="updateItem",
    summary="Change some fields of an item",
    response_model=ItemOut,
    responses=problems(404, 409, 412, 413, 415, 422),
)
async def update_item(
    item_id: UUID, body: ItemUpdate, update: UpdateItemDep, if_match: IfMatch = None
) -> Response:
    item = await update(
        item_id, body.model_dump(exclude_unset=True), expected_version=expected_version(if_match)
    )
    return item_response(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteItem",
    summary="Delete an item",
    response_class=Response,
    responses=problems(404, 412, 422),
)
async def delete_item(item_id: UUID, delete: DeleteItemDep, if_match: IfMatch = None) -> Response:
    await delete(item_id, expected_version=expected_version(if_match))
    return Response(status_code=204)


@router.post(
    "/{item_id}/stock-adjustments",
    operation_id="adjustStock",
    summary="Add to or take from the stock on hand",
    response_model=ItemOut,
    responses=problems(404, 409, 413, 415, 422),
)
async def adjust_stock(item_id: UUID, body: StockAdjustment, adjust: AdjustStockDep) -> Response:
    item = await adjust(item_id, body.delta)
    return item_response(item)
