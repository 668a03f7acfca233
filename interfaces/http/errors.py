"""Exception handlers: every error leaves as problem+json, with no internals in it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from application.errors import (
    CommitOutcomeUnknown,
    DataStoreUnavailable,
    InvalidCursor,
    InvalidQuery,
)
from application.events import CursorExpired
from application.idempotency import IdempotencyKeyInUse, IdempotencyKeyReused
from domain.errors import (
    DuplicateSku,
    InsufficientStock,
    ItemNotFound,
    ItemValidationError,
    StockLimitExceeded,
    VersionConflict,
)
from domain.item import READ_ONLY_FIELDS
from interfaces.http.problems import RETRY_AFTER_SECONDS, pointer, problem_response
from interfaces.http.request_context import request_id_of

_log = logging.getLogger("stockroom.http")

_FASTAPI_BODY_ERROR = "There was an error parsing the body"
_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}


def _field_error(loc: Sequence[str | int], message: str) -> dict[str, str]:
    """Map a validation location to a body pointer or a parameter name."""
    if loc and loc[0] == "body":
        return {"pointer": pointer(loc[1:]), "detail": message}
    if loc and loc[0] in {"query", "header", "path"}:
        return {"parameter": str(loc[-1]), "detail": message}
    return {"pointer": pointer(loc), "detail": message}


def _validation_message(error: dict[str, Any]) -> str:
    loc = error.get("loc", ())
    if error.get("type") == "extra_forbidden":
        return "is read-only" if loc and loc[-1] in READ_ONLY_FIELDS else "is not a known field"
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    return str(error.get("msg", "is invalid"))


def _invalid(request: Request, what: str, errors: list[dict[str, str]]) -> Response:
    """The 422 every validation failure gets: `errors` point at each field or parameter."""
    return problem_response(
        422,
        f"The {what} is invalid; see errors.",
        request_id=request_id_of(request),
        slug="validation",
        errors=errors,
    )


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"pointer": "", "detail": _validation_message(e)}
        if e.get("type") == "json_invalid"
        else _field_error(e.get("loc", ()), _validation_message(e))
        for e in exc.errors()
    ]
    return _invalid(request, "request", errors)


async def _item_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ItemValidationError)
    errors = [
        {"pointer": pointer(e.field.split(".")) if e.field else "", "detail": e.message}
        for e in exc.errors
    ]
    return _invalid(request, "item", errors)


async def _invalid_query(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidQuery)
    return _invalid(request, "query", [{"parameter": exc.field, "detail": exc.message}])


def _simple(status: int, slug: str) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        return problem_response(status, str(exc), request_id=request_id_of(request), slug=slug)

    return handler


async def _unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DataStoreUnavailable)
    # The cause goes to the operator (this line and the access line), not to the client.
    request.scope["state"]["cause"] = exc.reason
    _log.warning("database unavailable: %s (%s)", exc.reason, type(exc.__cause__ or exc).__name__)
    return problem_response(
        503,
        "The service cannot reach its database right now; retry shortly.",
        request_id=request_id_of(request),
        slug="unavailable",
    )


async def _outcome_unknown(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CommitOutcomeUnknown)
    request.scope["state"]["cause"] = exc.reason
    _log.warning("write outcome unknown: %s (%s)", exc.reason, type(exc.__cause__).__name__)
    return problem_response(
        503,
        "The database connection was lost while this write was being committed: it may or may "
        "not have been applied. Retrying with the same Idempotency-Key is safe.",
        request_id=request_id_of(request),
        slug="outcome-unknown",
    )


async def _in_progress(request: Request, exc: Exception) -> Response:
    return problem_response(
        409,
        str(exc),
        request_id=request_id_of(request),
        slug="idempotency-key-in-progress",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 304:
        return Response(status_code=304, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else "The request cannot be served."
    if exc.status_code == 400 and detail == _FASTAPI_BODY_ERROR:
        # FastAPI's answer to a body it cannot decode (e.g. not UTF-8): a malformed JSON body.
        return _invalid(
            request, "request", [{"pointer": "", "detail": "the body is not valid JSON (UTF-8)"}]
        )
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    headers = exc.headers
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        headers = {**(headers or {}), "Allow": ", ".join(_methods_of(request))}
    return problem_response(
        exc.status_code,
        detail,
        request_id=request_id_of(request),
        slug=_HTTP_SLUGS.get(exc.status_code),
        headers=headers,
    )


def _methods_of(request: Request) -> list[str]:
    """Every method the request's path answers: routing stops at the first route that has the
    path, and each route holds only its own methods."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ItemValidationError, _item_validation)
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.add_exception_handler(ItemNotFound, _simple(404, "item-not-found"))
    app.add_exception_handler(DuplicateSku, _simple(409, "duplicate-sku"))
    app.add_exception_handler(InsufficientStock, _simple(409, "insufficient-stock"))
    app.add_exception_handler(StockLimitExceeded, _simple(409, "stock-limit"))
    app.add_exception_handler(VersionConflict, _simple(412, "version-mismatch"))
    app.add_exception_handler(InvalidCursor, _simple(400, "invalid-cursor"))
    app.add_exception_handler(CursorExpired, _simple(410, "cursor-expired"))
    app.add_exception_handler(DataStoreUnavailable, _unavailable)
    app.add_exception_handler(CommitOutcomeUnknown, _outcome_unknown)
    app.add_exception_handler(IdempotencyKeyInUse, _in_progress)
    app.add_exception_handler(IdempotencyKeyReused, _simple(422, "idempotency-key-reused"))
