"""/v1/items: the Item's HTTP resource. Handlers translate HTTP to use-case calls and back.

Each handler takes its use case from the container itself (`use_cases`) and reads its optional
headers from the request; the OpenAPI document still lists them (`openapi_extra`). FastAPI
solves `Depends(...)` and `Header(...)` parameters anew on every request, which cost about a
tenth of a GET's CPU in the benchmark.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import WithJsonSchema
from starlette.responses import Response

from application.listing import DEFAULT_LIMIT, MAX_LIMIT, Q_MAX, ListQuery, Sort
from domain.item import Item
from domain.rules import BATCH_MAX, PRICE_LIMIT, PRICE_MAX
from interfaces.http.dependencies import use_cases
from interfaces.http.etags import IF_MATCH, IF_NONE_MATCH, etag, expected_version, none_match
from interfaces.http.exact_json import ExactJsonRoute
from interfaces.http.idempotency import IDEMPOTENCY_KEY, respond
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
from interfaces.presenters import present_item as _present

router = APIRouter(prefix="/v1/items", tags=["items"], route_class=ExactJsonRoute)

#: OpenAPI links from a created item to what can be done with it (clients and stateful tests).
ITEM_LINKS = {
    name: {"operationId": operation, "parameters": {"item_id": "$response.body#/id"}}
    for name, operation in [
        ("GetItem", "getItem"),
        ("UpdateItem", "updateItem"),
        ("DeleteItem", "deleteItem"),
        ("AdjustStock", "adjustStock"),
    ]
}

PriceBound = Annotated[
    Decimal | None,
    Query(ge=0, lt=PRICE_LIMIT),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": float(PRICE_MAX)}),
]


def _headers(*parameters: dict[str, object]) -> dict[str, object]:
    return {"parameters": list(parameters)}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="createItem",
    summary="Create an item",
    response_model=ItemOut,
    responses={**problems(401, 403, 409, 413, 415, 422), 201: {"links": ITEM_LINKS}},
    openapi_extra=_headers(IDEMPOTENCY_KEY),
)
async def create_item(request: Request, body: ItemCreate) -> Response:
    create = use_cases(request).create_item()
    data = body.model_dump(exclude_unset=True)

    def render(item: Item) -> Response:
        return item_response(item, status=201, headers={"Location": f"/v1/items/{item.id}"})

    return await respond(
        request,
        data,
        effect=lambda uow: create.within(uow, data),
        render=render,
        run=lambda: create(data),
    )


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    operation_id="createItems",
    summary=f"Create up to {BATCH_MAX} items, all or none",
    response_model=ItemsOut,
    responses=problems(401, 403, 409, 413, 415, 422),
    openapi_extra=_headers(IDEMPOTENCY_KEY),
)
async def create_items(request: Request, body: ItemsBatchCreate) -> Response:
    create = use_cases(request).create_items()
    rows = [row.model_dump(exclude_unset=True) for row in body.items]

    def render(items: list[Item]) -> Response:
        return json_response({"items": [_present(item) for item in items]}, status=201)

    return await respond(
        request,
        rows,
        effect=lambda uow: create.within(uow, rows),
        render=render,
        run=lambda: create(rows),
    )


@router.get(
    "",
    operation_id="listItems",
    summary="List items, one keyset page at a time",
    response_model=ItemPage,
    responses=problems(400, 401, 422),
)
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    sort: Sort = Sort.CREATED_AT,
    q: Annotated[str | None, Query(max_length=Q_MAX, pattern=r"^[^\u0000]*$")] = None,
    min_price: PriceBound = None,
    max_price: PriceBound = None,
    in_stock: bool | None = None,
) -> Response:
    query = ListQuery.parse(
        limit=limit,
        sort=sort,
        cursor=cursor,
        q=q,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
    )
    page = await use_cases(request).list_items()(query)
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
    responses=problems(304, 401, 404, 422),
    openapi_extra=_headers(IF_NONE_MATCH),
)
async def get_item(request: Request, item_id: UUID) -> Response:
    item = await use_cases(request).get_item()(item_id)
    if none_match(request.headers.getlist("if-none-match"), item.version):
        return Response(status_code=304, headers={"ETag": etag(item.version)})
    return item_response(item)


@router.patch(
    "/{item_id}",
    operation_id="updateItem",
    summary="Change some fields of an item",
    response_model=ItemOut,
    responses=problems(401, 403, 404, 409, 412, 413, 415, 422),
    openapi_extra=_headers(IF_MATCH),
)
async def update_item(request: Request, item_id: UUID, body: ItemUpdate) -> Response:
    item = await use_cases(request).update_item()(
        item_id,
        body.model_dump(exclude_unset=True),
        expected_version=expected_version(request.headers.getlist("if-match")),
    )
    return item_response(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteItem",
    summary="Delete an item",
    response_class=Response,
    responses=problems(401, 403, 404, 412, 422),
    openapi_extra=_headers(IF_MATCH),
)
async def delete_item(request: Request, item_id: UUID) -> Response:
    await use_cases(request).delete_item()(
        item_id, expected_version=expected_version(request.headers.getlist("if-match"))
    )
    return Response(status_code=204)


@router.post(
    "/{item_id}/stock-adjustments",
    operation_id="adjustStock",
    summary="Add to or take from the stock on hand",
    response_model=ItemOut,
    responses=problems(401, 403, 404, 409, 413, 415, 422),
    openapi_extra=_headers(IDEMPOTENCY_KEY),
)
async def adjust_stock(request: Request, item_id: UUID, body: StockAdjustment) -> Response:
    adjust = use_cases(request).adjust_stock()
    return await respond(
        request,
        {"delta": body.delta},
        effect=lambda uow: adjust.within(uow, item_id, body.delta),
        render=item_response,
        run=lambda: adjust(item_id, body.delta),
    )
