"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from starlette.responses import Response

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
RETRY_AFTER_SECONDS: Final = "1"

_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


#: The type of a problem raised without a more specific one: every problem names a type of this
#: service's own, so clients can tell its problems from a proxy's by the type alone.
_STATUS_SLUGS: Final = {
    status: title.lower().replace(" ", "-") for status, title in _TITLES.items()
} | {500: "internal-error"}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


def pointer(path: Sequence[str | int]) -> str:
    """A JSON Pointer (RFC 6901) to a field of the request body; "" is the whole body."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def problem_response(
    status: int,
    detail: str,
    *,
    request_id: str | None,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(slug or _STATUS_SLUGS.get(status, "error")),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "request_id": request_id,
    }
    if errors is not None:
        body["errors"] = errors
    all_headers = dict(headers or {})
    if status == 503:
        all_headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )
