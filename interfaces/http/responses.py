"""JSON responses rendered with orjson (the one serializer of the hot path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from domain.item import Item
from interfaces.http.etags import etag
from interfaces.presenters import present_item

_OPTIONS = orjson.OPT_UTC_Z


def json_response(
    content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def item_response(
    item: Item, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return json_response(
        present_item(item), status=status, headers={"ETag": etag(item.version), **(headers or {})}
    )
