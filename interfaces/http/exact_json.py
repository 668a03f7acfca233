"""JSON request bodies with exact numbers.

Starlette reads a JSON number with a fraction or an exponent as a float, so `0.10000000000000001`
arrives as 0.1 and `1e-400` as 0.0, and no rule after it can tell. The routes of this class read
such numbers as Decimal instead, so the domain judges the number that was sent.

They also spare FastAPI its own reading of the Content-Type header (an `email.message.Message`
built for every request with a body): the admission middleware has already refused a body that
is not JSON, so when FastAPI would read the body as JSON anyway, it is told so by a request that
names no content type, which these routes (`strict_content_type=False`) read as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, Final

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

#: Built once: `json.loads(..., parse_float=Decimal)` builds a decoder on every call.
_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
_CONTENT_TYPE: Final = b"content-type"


def exact_json_loads(body: bytes) -> Any:
    """`json.loads(body, parse_float=Decimal)`, with its handling of bytes (UTF-8, -16 or -32)."""
    return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


def fastapi_reads_as_json(content_type: str) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON: `application/json` or
    `application/*+json`, parsed as `email.message.Message.get_content_type` does (a malformed
    value is text/plain)."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.count("/") != 1:
        return False
    main, sub = media_type.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = exact_json_loads(await self.body())
        return self._json


def _without_json_content_type(scope: Scope) -> Scope:
    """The scope FastAPI is handed: a JSON content type left out, anything else kept for
    FastAPI to judge as before."""
    headers = scope["headers"]
    for name, value in headers:
        if name == _CONTENT_TYPE:
            if fastapi_reads_as_json(value.decode("latin-1")):
                return {**scope, "headers": [h for h in headers if h[0] != _CONTENT_TYPE]}
            return scope
    return scope


class ExactJsonRoute(APIRoute):
    """Only behind the admission middleware: a body that comes without a content type is read
    as JSON here, and only that middleware refuses one (415)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **{**options, "strict_content_type": False})

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler  # no body to read: a second Request per request would buy nothing

        async def exact_json_handler(request: Request) -> Response:
            scope = _without_json_content_type(request.scope)
            return await handler(ExactJsonRequest(scope, request.receive))

        return exact_json_handler
