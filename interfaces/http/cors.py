"""CORS, with a refused preflight answered as a problem like every other error."""

from __future__ import annotations

from typing import Final

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from interfaces.http.problems import problem_response
from interfaces.logs import request_id_var

ALLOW_METHODS: Final = ["GET", "HEAD", "POST", "PATCH", "DELETE"]
ALLOW_HEADERS: Final = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "Stockroom-Session",
]
EXPOSE_HEADERS: Final = [
    "ETag",
    "Location",
    "Link",
    "X-Request-ID",
    "Retry-After",
    "Idempotent-Replayed",
    "Allow",
    "Stockroom-Session",
]


class ProblemCorsMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, allow_origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=ALLOW_METHODS,
            allow_headers=ALLOW_HEADERS,
            expose_headers=EXPOSE_HEADERS,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        # Starlette says which of origin, method and headers it refused, as plain text.
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        return problem_response(
            403,
            f"This cross-origin request is not allowed (its {refused}).",
            request_id=request_id_var.get(),
            slug="cors-refused",
        )
