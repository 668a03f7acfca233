"""How a change-feed event looks outside the process: one JSON shape for HTTP, SSE and the CLI."""

from __future__ import annotations

from typing import Any

import orjson

from application.events import FeedEntry
from interfaces.presenters import JSON_OPTIONS


def present_event(entry: FeedEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "id": event.id,
        "cursor": entry.cursor,
        "type": event.type.value,
        "item_id": event.item_id,
        "sku": event.sku,
        "version": event.version,
        "changes": dict(event.changes),
        "occurred_at": event.occurred_at,
    }


def event_json(entry: FeedEntry) -> bytes:
    return orjson.dumps(present_event(entry), option=JSON_OPTIONS)
