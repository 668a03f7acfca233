"""The Idempotency-Key header: fingerprinting a request, storing and replaying its response."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from application.idempotency import Outcome, RunIdempotently
from application.ports import StoredResponse, UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed
from interfaces.http.auth import principal_of
from interfaces.http.openapi import header_parameter

T = TypeVar("T")

#: Headers of a stored response that a replay repeats.
_REPLAYED_HEADERS: Final = ("content-type", "etag", "location")

_KEY_HEADER: Final = "idempotency-key"
_KEY_MAX: Final = 255

#: The header in the OpenAPI document; the handlers read it from the request.
IDEMPOTENCY_KEY: Final = header_parameter(
    _KEY_HEADER,
    "Makes the request safe to retry: the first successful response is stored for "
    "{idempotency_ttl} and replayed (with `Idempotent-Replayed: true`) for a repeat with the "
    "same body.",
    {"type": "string", "minLength": 1, "maxLength": _KEY_MAX},
)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(_KEY_HEADER)
    if key is None or 1 <= len(key) <= _KEY_MAX:
        return key
    too_long = len(key) > _KEY_MAX
    raise RequestValidationError(
        [
            {
                "type": "string_too_long" if too_long else "string_too_short",
                "loc": ("header", _KEY_HEADER),
                "msg": f"String should have at {'most' if too_long else 'least'} "
                f"{_KEY_MAX if too_long else 1} character{'s' if too_long else ''}",
                "input": key,
            }
        ]
    )


def fingerprint(request: Request, body: Any) -> str:
    """What makes two requests "the same": method, path and the JSON body (key order ignored).

    An exact JSON number (a Decimal, see exact_json.py) counts as its text."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def remember(response: Response) -> StoredResponse:
    headers = tuple(
        (name, value) for name, value in response.headers.items() if name in _REPLAYED_HEADERS
    )
    return StoredResponse(status=response.status_code, headers=headers, body=bytes(response.body))


def replay(outcome: Outcome) -> Response:
    stored = outcome.response
    response = Response(stored.body, status_code=stored.status)
    for name, value in stored.headers:
        response.headers[name] = value
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


class Writes:
    """Runs a write route's effect in a unit of work of its own; with an Idempotency-Key, once per
    key, its response stored with the effect and replayed for a repeat of the same request."""

    def __init__(self, run_idempotently: RunIdempotently, uow: UnitOfWorkFactory) -> None:
        self._run_idempotently = run_idempotently
        self._uow = uow

    async def __call__(
        self,
        request: Request,
        body: Any,
        effect: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], Response],
    ) -> Response:
        """`body` (the request's JSON) is what makes a repeat "the same request"."""
        key = idempotency_key(request)
        if key is None:
            return render(await committed(self._uow, effect))
        outcome = await self._run_idempotently(
            scope=principal_of(request).id,
            key=key,
            fingerprint=fingerprint(request, body),
            effect=effect,
            render=lambda result: remember(render(result)),
        )
        return replay(outcome)
