"""/v1/items: the Item's HTTP resource. Handlers translate HTTP to use-case calls and back.

Handlers read their optional headers from the request, and `openapi_extra` lists them in the
document: FastAPI would solve `Header(...)` parameters anew on every request.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field, WithJsonSchema
from starlette.responses import Response

from application.errors import InvalidQuery
from application.listing import DEFAULT_LIMIT, MAX_LIMIT, Q_MAX, ListQuery, Sort
from domain.item import Item
from domain.rules import BATCH_MAX, PRICE_LIMIT, PRICE_MAX
from infrastructure.container import Container
from interfaces.http.etags import IF_MATCH, IF_NONE_MATCH, etag, expected_version, none_match
from interfaces.http.exact_json import ExactJsonRoute
from interfaces.http.idempotency import IDEMPOTENCY_KEY, Writes
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
    Field(ge=0, lt=PRICE_LIMIT),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": float(PRICE_MAX)}),
]


class ListParameters(BaseModel):
    """The list page's query parameters, validated as one model: FastAPI looks each loose
    parameter's type over again on every request."""

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(max_length=1024)] = None
    sort: Sort = Sort.CREATED_AT
    q: Annotated[str | None, Field(max_length=Q_MAX, pattern=r"^[^\u0000]*$")] = None
    min_price: PriceBound = None
    max_price: PriceBound = None
    in_stock: bool | None = None


def _once_each(request: Request) -> None:
    """A parameter given twice is refused: which value counts would be anybody's guess."""
    names = [name for name, _ in request.query_params.multi_items()]
    for name in ListParameters.model_fields:
        if names.count(name) > 1:
            raise InvalidQuery(name, "must be given once")


def _headers(*parameters: dict[str, object]) -> dict[str, object]:
    return {"parameters": list(parameters)}


def _created(item: Item) -> Response:
    return item_response(item, status=201, headers={"Location": f"/v1/items/{item.id}"})


def _created_all(items: list[Item]) -> Response:
    return json_response({"items": [_present(item) for item in items]}, status=201)


def items_router(container: Container) -> APIRouter:
    router = APIRouter(prefix="/v1/items", tags=["items"], route_class=ExactJsonRoute)
    create = container.create_item()
    create_all = container.create_items()
    list_page = container.list_items()
    get = container.get_item()
    update = container.update_item()
    delete = container.delete_item()
    adjust = container.adjust_stock()
    writes = Writes(container.run_idempotently(), container.unit_of_work)

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
        data = body.model_dump(exclude_unset=True)
        return await writes(request, data, lambda uow: create.within(uow, data), _created)

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
        rows = [row.model_dump(exclude_unset=True) for row in body.items]
        return await writes(request, rows, lambda uow: create_all.within(uow, rows), _created_all)

    @router.get(
        "",
        operation_id="listItems",
        summary="List items, one keyset page at a time",
        response_model=ItemPage,
        responses=problems(400, 401, 422),
    )
    async def list_items(request: Request, given: Annotated[ListParameters, Query()]) -> Response:
        _once_each(request)
        query = ListQuery.parse(
            limit=given.limit,
            sort=given.sort,
            cursor=given.cursor,
            q=given.q,
            min_price=given.min_price,
            max_price=given.max_price,
            in_stock=given.in_stock,
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
        responses=problems(304, 401, 404, 422),
        openapi_extra=_headers(IF_NONE_MATCH),
    )
    async def get_item(request: Request, item_id: UUID) -> Response:
        item = await get(item_id)
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
        item = await update(
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
        version = expected_version(request.headers.getlist("if-match"))
        await delete(item_id, expected_version=version)
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
        delta = body.delta
        return await writes(
            request, {"delta": delta}, lambda uow: adjust.within(uow, item_id, delta), item_response
        )

    return router
