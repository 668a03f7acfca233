"""How a change-feed event looks outside the process: one JSON shape for HTTP, SSE and the CLI."""

from __future__ import annotations

from typing import Any

import orjson

from application.events import FeedEntry, event_document
from interfaces.presenters import JSON_OPTIONS


def present_event(entry: FeedEntry) -> dict[str, Any]:
    return event_document(entry)


def event_json(entry: FeedEntry) -> bytes:
    return orjson.dumps(event_document(entry), option=JSON_OPTIONS)
