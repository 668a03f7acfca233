"""The Idempotency-Key header: fingerprinting a request, storing and replaying its response."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Final, ParamSpec, Protocol, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from application.idempotency import Outcome, RunIdempotently
from application.ports import StoredResponse, UnitOfWork
from interfaces.http.auth import principal_of
from interfaces.http.openapi import header_parameter

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

#: Headers of a stored response that a replay repeats.
_REPLAYED_HEADERS: Final = ("content-type", "etag", "location")

_KEY_HEADER: Final = "idempotency-key"
_KEY_MAX: Final = 255

#: The header in the OpenAPI document (the handlers read it from the request, see items.py).
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


class Write(Protocol[P, T_co]):
    """A write use case: called alone it commits its own unit of work; `within` does the same
    work inside a unit of work that its caller commits."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T_co]: ...

    def within(self, uow: UnitOfWork, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T_co]: ...


class Writes:
    """How every write route runs its use case, with or without an Idempotency-Key."""

    def __init__(self, run_idempotently: RunIdempotently) -> None:
        self._run_idempotently = run_idempotently

    async def __call__(
        self,
        request: Request,
        body: Any,
        render: Callable[[T], Response],
        write: Write[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Response:
        """`render(await write(*args))`; with an Idempotency-Key, `write.within(uow, *args)`
        runs idempotently instead: `body` (the request's JSON) is what makes a repeat "the
        same request"."""
        key = idempotency_key(request)
        if key is None:
            return render(await write(*args, **kwargs))
        outcome = await self._run_idempotently(
            scope=principal_of(request).id,
            key=key,
            fingerprint=fingerprint(request, body),
            effect=lambda uow: write.within(uow, *args, **kwargs),
            render=lambda result: remember(render(result)),
        )
        return replay(outcome)
