"""The reference server: the floor of what the stack can do for Stockroom's API.

Starlette routing + one raw asyncpg pool + orjson, run by uvicorn (uvloop, httptools, one worker).
It serves the endpoints the benchmark drives with Stockroom's JSON, status codes and headers
(ETag, Location, Link, X-Request-ID, X-Content-Type-Options), and one SQL statement per request
in autocommit (the batch: BEGIN, one INSERT … SELECT FROM unnest(…), COMMIT). What it leaves out:
idempotency keys, API keys, sorts other than created_at, list filters, metrics.

    python bench/http/reference_server.py --port 8001 --database-url postgresql://…
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
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
SQL_INSERT_MANY: Final = (
    f"INSERT INTO items ({COLUMNS}) SELECT * FROM unnest($1::uuid[], $2::varchar[], "
    "$3::varchar[], $4::varchar[], $5::numeric[], $6::int[], $7::int[], $8::timestamptz[], "
    "$8::timestamptz[]) ON CONFLICT (sku) DO NOTHING RETURNING sku"
)
SQL_ADJUST: Final = (
    "UPDATE items SET quantity = quantity + $1, version = version + 1, updated_at = $2 "
    f"WHERE id = $3 AND quantity + $1 >= 0 RETURNING {COLUMNS}"
)
SQL_EXISTS: Final = "SELECT version FROM items WHERE id = $1"

WRITABLE: Final = ("sku", "name", "description", "price", "quantity")
READ_ONLY: Final = frozenset({"id", "version", "created_at", "updated_at"})
#: A cursor's filter digest when the list has no filters (the reference serves none).
UNFILTERED: Final = ""
SKU_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,63}")
CENT: Final = Decimal("0.01")
PRICE_LIMIT: Final = Decimal(10) ** 10
MAX_LIMIT: Final = 200
JSON_OPTIONS: Final = orjson.OPT_UTC_Z
_TITLES: Final = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Content",
}
_update_sql: dict[tuple[str, ...], str] = {}
pool: Any = None


class Invalid(Exception):
    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"X-Request-ID": uuid.uuid4().hex, "X-Content-Type-Options": "nosniff", **(extra or {})}


def _json(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content, option=JSON_OPTIONS),
        status_code=status,
        media_type="application/json",
        headers=_headers(headers),
    )


def _problem(
    status: int, slug: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    headers = _headers()
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "request_id": headers["X-Request-ID"],
    }
    if errors is not None:
        body["errors"] = errors
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def _invalid(exc: Invalid) -> Response:
    return _problem(
        422,
        "validation",
        "The item is invalid; see errors.",
        [{"pointer": f"/{exc.field}", "detail": exc.detail}],
    )


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


def _item_id(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params["item_id"])
    except ValueError:
        return None


def _not_found(item_id: uuid.UUID) -> Response:
    return _problem(404, "item-not-found", f"item {item_id} does not exist")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Invalid("", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("", "must be an object")
    return body


def _price(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid("price", "must be a decimal number or a string holding one")
    try:
        price = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise Invalid("price", "must be a decimal number") from None
    if not price.is_finite() or price < 0 or price >= PRICE_LIMIT or price != price.quantize(CENT):
        raise Invalid("price", "must be at least 0, below 10^10, with at most 2 decimals")
    return price.quantize(CENT)


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise Invalid(name, f"must be a string of 1 to {limit} characters")
    return value.strip()


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise the writable fields given (Stockroom's rules, briefly)."""
    values: dict[str, Any] = {}
    for name, raw in body.items():
        if name not in WRITABLE:
            raise Invalid(name, "is read-only" if name in READ_ONLY else "is not a known field")
        if name == "sku":
            sku = _text("sku", raw, 64).upper()
            if not SKU_PATTERN.fullmatch(sku):
                raise Invalid("sku", "must be letters, digits, '.', '_' and '-'")
            values["sku"] = sku
        elif name == "name":
            values["name"] = _text("name", raw, 200)
        elif name == "description":
            if raw is not None and (not isinstance(raw, str) or len(raw) > 2000):
                raise Invalid("description", "must be a string of at most 2000 characters")
            values["description"] = raw
        elif name == "price":
            values["price"] = _price(raw)
        else:
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 2**31:
                raise Invalid("quantity", "must be an integer at least 0")
            values["quantity"] = raw
    return values


def _new_item(body: Mapping[str, Any]) -> dict[str, Any]:
    values = _fields(body)
    for required in ("sku", "name", "price"):
        if required not in values:
            raise Invalid(required, "is required")
    values.setdefault("description", None)
    values.setdefault("quantity", 0)
    return values


async def create_item(request: Request) -> Response:
    try:
        values = _new_item(await _body(request))
    except Invalid as exc:
        return _invalid(exc)
    item_id = uuid.UUID(bytes=uuid_utils.uuid7().bytes)
    row = await pool.fetchrow(
        SQL_INSERT,
        item_id,
        values["sku"],
        values["name"],
        values["description"],
        values["price"],
        values["quantity"],
        datetime.now(UTC),
    )
    if row is None:
        return _problem(409, "duplicate-sku", f"An item with sku {values['sku']} already exists.")
    return _item_response(row, 201, {"Location": f"/v1/items/{item_id}"})


async def create_items(request: Request) -> Response:
    try:
        body = await _body(request)
        rows = body.get("items")
        if not isinstance(rows, list) or not 1 <= len(rows) <= 1000 or set(body) != {"items"}:
            raise Invalid("items", "must hold 1 to 1000 items")
        items = []
        for index, raw in enumerate(rows):
            if not isinstance(raw, dict):
                raise Invalid(f"items/{index}", "must be an object")
            try:
                items.append(_new_item(raw))
            except Invalid as exc:
                raise Invalid(f"items/{index}/{exc.field}", exc.detail) from None
    except Invalid as exc:
        return _invalid(exc)
    skus = [item["sku"] for item in items]
    if len(set(skus)) != len(skus):
        return _problem(409, "duplicate-sku", "A sku repeats within the batch.")
    now = datetime.now(UTC)
    ids = [uuid.UUID(bytes=uuid_utils.uuid7().bytes) for _ in items]
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetch(
            SQL_INSERT_MANY,
            ids,
            skus,
            [item["name"] for item in items],
            [item["description"] for item in items],
            [item["price"] for item in items],
            [item["quantity"] for item in items],
            [1] * len(items),
            [now] * len(items),
        )
        if len(inserted) != len(items):
            # Leaving the block with an exception rolls the transaction back.
            raise _Conflict()
    out = [
        {
            "id": str(item_id),
            "sku": item["sku"],
            "name": item["name"],
            "description": item["description"],
            "price": f"{item['price']:.2f}",
            "quantity": item["quantity"],
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for item_id, item in zip(ids, items, strict=True)
    ]
    return _json({"items": out}, 201)


class _Conflict(Exception):
    pass


async def get_item(request: Request) -> Response:
    item_id = _item_id(request)
    if item_id is None:
        return _invalid(Invalid("item_id", "must be a UUID"))
    row = await pool.fetchrow(SQL_GET, item_id)
    if row is None:
        return _not_found(item_id)
    if request.headers.get("if-none-match") == f'"{row[6]}"':
        return Response(status_code=304, headers=_headers({"ETag": f'"{row[6]}"'}))
    return _item_response(row)


def _cursor(token: str) -> tuple[datetime, uuid.UUID]:
    padded = token + "=" * (-len(token) % 4)
    sort, value, item_id, filters = orjson.loads(base64.urlsafe_b64decode(padded))
    if sort != "created_at" or filters != UNFILTERED:
        raise ValueError(sort)
    return datetime.fromisoformat(value), uuid.UUID(item_id)


def _encode_cursor(created_at: datetime, item_id: object) -> str:
    raw = orjson.dumps(["created_at", created_at.isoformat(), str(item_id), UNFILTERED])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def list_items(request: Request) -> Response:
    params = request.query_params
    try:
        limit = int(params.get("limit", "50"))
        if not 1 <= limit <= MAX_LIMIT or params.get("sort", "created_at") != "created_at":
            raise ValueError(limit)
    except ValueError:
        return _invalid(Invalid("limit", f"must be between 1 and {MAX_LIMIT}"))
    token = params.get("cursor")
    if token:
        try:
            after = _cursor(token)
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            return _problem(400, "invalid-cursor", "the cursor is malformed")
        rows = await pool.fetch(SQL_NEXT_PAGE, after[0], after[1], limit + 1)
    else:
        rows = await pool.fetch(SQL_FIRST_PAGE, limit + 1)
    headers = {}
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1][7], rows[-1][0])
        query = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        query.append(("cursor", next_cursor))
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return _json({"items": [_item(row) for row in rows], "next_cursor": next_cursor}, 200, headers)


def _expected_version(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    tag = header.strip()
    return int(tag[1:-1]) if tag[:1] == '"' == tag[-1:] and tag[1:-1].isdigit() else -1


async def update_item(request: Request) -> Response:
    item_id = _item_id(request)
    if item_id is None:
        return _invalid(Invalid("item_id", "must be a UUID"))
    try:
        values = _fields(await _body(request))
        if not values:
            raise Invalid("", "at least one field must be given")
    except Invalid as exc:
        return _invalid(exc)
    expected = _expected_version(request)
    names = tuple(values)
    key = (*names, "?") if expected is not None else names
    sql = _update_sql.get(key)
    if sql is None:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=1))
        n = len(names)
        where = f"id = ${n + 2}" + (f" AND version = ${n + 3}" if expected is not None else "")
        sql = (
            f"UPDATE items SET {sets}, version = version + 1, updated_at = ${n + 1} "
            f"WHERE {where} RETURNING {COLUMNS}"
        )
        _update_sql[key] = sql
    args: list[Any] = [*values.values(), datetime.now(UTC), item_id]
    if expected is not None:
        args.append(expected)
    try:
        row = await pool.fetchrow(sql, *args)
    except asyncpg.UniqueViolationError:
        return _problem(409, "duplicate-sku", f"An item with sku {values['sku']} already exists.")
    if row is None:
        if await pool.fetchval(SQL_EXISTS, item_id) is None:
            return _not_found(item_id)
        return _problem(412, "version-mismatch", "If-Match names no current version of this item.")
    return _item_response(row)


async def adjust_stock(request: Request) -> Response:
    item_id = _item_id(request)
    if item_id is None:
        return _invalid(Invalid("item_id", "must be a UUID"))
    try:
        body = await _body(request)
        delta = body.get("delta")
        if set(body) != {"delta"} or isinstance(delta, bool) or not isinstance(delta, int):
            raise Invalid("delta", "must be an integer")
        if delta == 0 or abs(delta) >= 2**31:
            raise Invalid("delta", "must not be 0")
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


def create_app(database_url: str, *, pool_min: int = 10, pool_max: int = 15) -> Starlette:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        global pool  # noqa: PLW0603  (one pool per process, as in any asyncpg app)
        pool = await asyncpg.create_pool(
            database_url.replace("postgresql+asyncpg://", "postgresql://", 1),
            min_size=pool_min,
            max_size=pool_max,
            reset=_no_reset,
            server_settings={
                "application_name": "reference",
                "statement_timeout": "2000",
                "idle_in_transaction_session_timeout": "30000",
            },
        )
        try:
            yield
        finally:
            await pool.close()

    async def _conflict(_: Request, __: Exception) -> Response:
        return _problem(409, "duplicate-sku", "A sku of the batch already exists.")

    return Starlette(
        routes=[
            Route("/v1/items", create_item, methods=["POST"]),
            Route("/v1/items", list_items, methods=["GET"]),
            Route("/v1/items/batch", create_items, methods=["POST"]),
            Route("/v1/items/{item_id}", get_item, methods=["GET"]),
            Route("/v1/items/{item_id}", update_item, methods=["PATCH"]),
            Route("/v1/items/{item_id}/stock-adjustments", adjust_stock, methods=["POST"]),
            Route("/health/live", live, methods=["GET"]),
        ],
        exception_handlers={_Conflict: _conflict},
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--database-url", default=os.environ.get("REFERENCE_DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or REFERENCE_DATABASE_URL) is required")
    uvicorn.run(
        create_app(args.database_url),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
