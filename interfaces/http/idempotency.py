"""The Idempotency-Key header: fingerprinting a request, storing and replaying its response."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final, TypeVar

import orjson
from fastapi import Header, Request
from starlette.responses import Response

from application.idempotency import Outcome, RunIdempotently, StoredResponse
from application.ports import UnitOfWork
from interfaces.http.auth import Principal

T = TypeVar("T")

#: Headers of a stored response that a replay repeats.
_REPLAYED_HEADERS: Final = ("content-type", "etag", "location")

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=255,
        description=(
            "Makes the request safe to retry: the first successful response is stored for 24 h "
            "and replayed (with `Idempotent-Replayed: true`) for a repeat with the same body."
        ),
    ),
]


def fingerprint(request: Request, body: Any) -> str:
    """What makes two requests "the same": method, path and the JSON body (key order ignored)."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
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


async def respond(
    request: Request,
    principal: Principal,
    key: str | None,
    body: Any,
    effect: Callable[[UnitOfWork], Awaitable[T]],
    render: Callable[[T], Response],
    run: Callable[[], Awaitable[T]],
) -> Response:
    """Run `run()` plainly without a key; with one, run `effect` idempotently."""
    if key is None:
        return render(await run())
    runner: RunIdempotently = request.app.state.container.run_idempotently()
    outcome = await runner(
        scope=principal.id,
        key=key,
        fingerprint=fingerprint(request, body),
        effect=effect,
        render=lambda result: remember(render(result)),
    )
    return replay(outcome)
