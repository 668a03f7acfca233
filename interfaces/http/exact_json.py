"""JSON request bodies with exact numbers.

Starlette reads a JSON number with a fraction or an exponent as a float, so `0.10000000000000001`
arrives as 0.1 and `1e-400` as 0.0, and no rule after it can tell. These routes read such numbers
as Decimal instead, so the domain judges the number that was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, Final

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

_DECODER: Final = json.JSONDecoder(parse_float=Decimal)


def exact_json_loads(body: bytes) -> Any:
    """`json.loads(body, parse_float=Decimal)`, with its handling of bytes (UTF-8, -16 or -32)."""
    return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


class ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = exact_json_loads(await self.body())
        return self._json


class ExactJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler  # nothing to read: FastAPI's own handler

        async def exact_json_handler(request: Request) -> Response:
            return await handler(ExactJsonRequest(request.scope, request.receive))

        return exact_json_handler
