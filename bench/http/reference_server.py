"""The reference server: the floor of what the stack can do for the endpoints the benchmark drives.

Starlette routing, one raw asyncpg pool and orjson under uvicorn (uvloop, httptools, one worker),
one SQL statement per request in autocommit. It answers with Stockroom's JSON bytes, statuses and
headers and checks bodies the way Stockroom does; PATCH renames only, and idempotency keys, API
keys, conditional requests, other sorts, filters and metrics are left out.

    python bench/http/reference_server.py --port 8001 --database-url postgresql://…
"""

from __future__ import annotations

import argparse
import base64
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import urlencode

import asyncpg
import orjson
import uuid_utils
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS: Final = "id, sku, name, description, price, quantity, version, created_at, updated_at"
SQL_GET: Final = f"SELECT {COLUMNS} FROM items WHERE id = $1"
SQL_FIRST_PAGE: Final = f"SELECT {COLUMNS} FROM items ORDER BY created_at, id LIMIT $1"
SQL_NEXT_PAGE: Final = (
    f"SELECT {COLUMNS} FROM items WHERE (created_at, id) > ($1, $2) "
    "ORDER BY created_at, id LIMIT $3"
)
SQL_INSERT: Final = (
    f"INSERT INTO items ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) "
    f"ON CONFLICT (sku) DO NOTHING RETURNING {COLUMNS}"
)
SQL_RENAME: Final = (
    "UPDATE items SET name = $1, version = version + 1, updated_at = $2 "
    f"WHERE id = $3 RETURNING {COLUMNS}"
)
SQL_ADJUST: Final = (
    "UPDATE items SET quantity = quantity + $1, version = version + 1, updated_at = $2 "
    f"WHERE id = $3 AND quantity + $1 >= 0 RETURNING {COLUMNS}"
)
SQL_EXISTS: Final = "SELECT 1 FROM items WHERE id = $1"
SKU: Final = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,63}")
CENT: Final = Decimal("0.01")
TITLES: Final = {404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}
pool: Any = None


class Invalid(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.detail = field, detail


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"X-Request-ID": uuid.uuid4().hex, "X-Content-Type-Options": "nosniff", **(extra or {})}


def _json(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status, _headers(headers), "application/json")


def _problem(status: int, slug: str, detail: str, pointer: str | None = None) -> Response:
    headers = _headers()
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": TITLES[status]}
    body |= {"status": status, "detail": detail, "request_id": headers["X-Request-ID"]}
    if pointer is not None:
        body["errors"] = [{"pointer": pointer, "detail": detail}]
    return Response(orjson.dumps(body), status, headers, "application/problem+json")


def _invalid(exc: Invalid) -> Response:
    return _problem(422, "validation", exc.detail, f"/{exc.field}")


def _item(row: Any) -> dict[str, Any]:
    return {
        "id": str(row[0]),
        "sku": row[1],
        "name": row[2],
        "description": row[3],
        "price": f"{row[4]:.2f}",
        "quantity": row[5],
        "version": row[6],
        "created_at": row[7],
        "updated_at": row[8],
    }


def _item_response(
    row: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return _json(_item(row), status, {"ETag": f'"{row[6]}"', **(headers or {})})


def _not_found(item_id: uuid.UUID) -> Response:
    return _problem(404, "item-not-found", f"item {item_id} does not exist")


async def _body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Invalid("", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("", "must be an object")
    for name in body.keys() - allowed:
        raise Invalid(name, "is not a known field")
    return body


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise Invalid(name, f"must be a string of 1 to {limit} characters")
    return value.strip()


def _item_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["item_id"])
    except ValueError:
        raise Invalid("item_id", "must be a UUID") from None


NEW_ITEM: Final = frozenset({"sku", "name", "description", "price", "quantity"})


def _new_item(body: Mapping[str, Any]) -> tuple[Any, ...]:
    sku = _text(body, "sku", 64).upper()
    if not SKU.fullmatch(sku):
        raise Invalid("sku", "must be letters, digits, '.', '_' and '-'")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise Invalid("description", "must be a string of at most 2000 characters")
    raw = body.get("price")
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidOperation
        price = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        raise Invalid("price", "must be a decimal number") from None
    if not price.is_finite() or not 0 <= price < 10**10 or price != price.quantize(CENT):
        raise Invalid("price", "must be at least 0, below 10^10, with at most 2 decimals")
    quantity = body.get("quantity", 0)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity < 2**31:
        raise Invalid("quantity", "must be an integer at least 0")
    return sku, _text(body, "name", 200), description, price.quantize(CENT), quantity


async def create_item(request: Request) -> Response:
    try:
        values = _new_item(await _body(request, NEW_ITEM))
    except Invalid as exc:
        return _invalid(exc)
    item_id = uuid.UUID(bytes=uuid_utils.uuid7().bytes)
    row = await pool.fetchrow(SQL_INSERT, item_id, *values, datetime.now(UTC))
    if row is None:
        return _problem(409, "duplicate-sku", f"An item with sku {values[0]} already exists.")
    return _item_response(row, 201, {"Location": f"/v1/items/{item_id}"})


async def get_item(request: Request) -> Response:
    try:
        item_id = _item_id(request)
    except Invalid as exc:
        return _invalid(exc)
    row = await pool.fetchrow(SQL_GET, item_id)
    return _not_found(item_id) if row is None else _item_response(row)


def _encode_cursor(created_at: datetime, item_id: object) -> str:
    raw = orjson.dumps(["created_at", created_at.isoformat(), str(item_id), ""])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def list_items(request: Request) -> Response:
    params = request.query_params
    limit_text, token = params.get("limit", "50"), params.get("cursor")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 200:
        return _invalid(Invalid("limit", "must be between 1 and 200"))
    limit = int(limit_text)
    if token:
        try:
            sort, value, item_id, filters = orjson.loads(
                base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            )
            if sort != "created_at" or filters:
                raise ValueError(sort)
            after = datetime.fromisoformat(value), uuid.UUID(item_id)
        except (ValueError, TypeError):
            return _invalid(Invalid("cursor", "the cursor is malformed"))
        rows = await pool.fetch(SQL_NEXT_PAGE, *after, limit + 1)
    else:
        rows = await pool.fetch(SQL_FIRST_PAGE, limit + 1)
    headers, next_cursor = {}, None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1][7], rows[-1][0])
        query = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        query.append(("cursor", next_cursor))
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return _json({"items": [_item(row) for row in rows], "next_cursor": next_cursor}, 200, headers)


async def rename_item(request: Request) -> Response:
    try:
        item_id = _item_id(request)
        name = _text(await _body(request, frozenset({"name"})), "name", 200)
    except Invalid as exc:
        return _invalid(exc)
    row = await pool.fetchrow(SQL_RENAME, name, datetime.now(UTC), item_id)
    return _not_found(item_id) if row is None else _item_response(row)


async def adjust_stock(request: Request) -> Response:
    try:
        item_id = _item_id(request)
        delta = (await _body(request, frozenset({"delta"}))).get("delta")
        if isinstance(delta, bool) or not isinstance(delta, int) or not 0 < abs(delta) < 2**31:
            raise Invalid("delta", "must be a non-zero integer")
    except Invalid as exc:
        return _invalid(exc)
    row = await pool.fetchrow(SQL_ADJUST, delta, datetime.now(UTC), item_id)
    if row is None:
        if await pool.fetchval(SQL_EXISTS, item_id) is None:
            return _not_found(item_id)
        return _problem(409, "insufficient-stock", f"Not enough stock of item {item_id}.")
    return _item_response(row)


async def live(_: Request) -> Response:
    return _json({"status": "ok"})


async def _no_reset(_: object) -> None:
    """Connections carry no session state here: skip asyncpg's reset query on release."""


def create_app(database_url: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        global pool  # noqa: PLW0603  (one pool per process, as in any asyncpg app)
        pool = await asyncpg.create_pool(
            database_url.replace("postgresql+asyncpg://", "postgresql://", 1),
            min_size=10,
            max_size=15,
            reset=_no_reset,
            server_settings={"application_name": "reference", "statement_timeout": "2000"},
        )
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/v1/items", create_item, methods=["POST"]),
            Route("/v1/items", list_items, methods=["GET"]),
            Route("/v1/items/{item_id}", get_item, methods=["GET"]),
            Route("/v1/items/{item_id}", rename_item, methods=["PATCH"]),
            Route("/v1/items/{item_id}/stock-adjustments", adjust_stock, methods=["POST"]),
            Route("/health/live", live, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
