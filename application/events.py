"""The change feed's positions (the opaque cursors), queries and pages.

A position is an event's place in commit-safe order: its transaction's id and its own id.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from application.errors import ApplicationError, InvalidCursor, InvalidQuery
from domain.events import EventType, ItemEvent

DEFAULT_EVENT_LIMIT: Final = 100
MAX_EVENT_LIMIT: Final = 1000
_BIGINT_MAX: Final = 2**63 - 1
_TOKEN: Final = re.compile(r"[1-9][0-9]{0,18}\.[1-9][0-9]{0,18}")


class CursorExpired(ApplicationError):
    """Events after the cursor have been purged (older than the retention period)."""


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    xid: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.xid}.{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> FeedPosition:
        """Strict: only the exact encoding of a position this service could have issued."""
        try:
            padded = token + "=" * (-len(token) % 4)
            text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        except (UnicodeError, binascii.Error, ValueError):
            text = ""
        if _TOKEN.fullmatch(text):
            xid, event_id = (int(part) for part in text.split("."))
            position = cls(xid, event_id)
            if xid <= _BIGINT_MAX and event_id <= _BIGINT_MAX and position.encode() == token:
                return position
        raise InvalidCursor("the cursor is malformed; use next_cursor or an event's cursor")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    position: FeedPosition
    event: ItemEvent

    @property
    def cursor(self) -> str:
        return self.position.encode()


@dataclass(frozen=True, slots=True)
class EventQuery:
    after: FeedPosition | None = None
    limit: int = DEFAULT_EVENT_LIMIT
    item_id: UUID | None = None
    types: frozenset[EventType] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_EVENT_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_EVENT_LIMIT}")


@dataclass(frozen=True, slots=True)
class EventPage:
    entries: list[FeedEntry]
    #: Where to resume: the last entry's position, else the query's own (None: from the start).
    next_cursor: str | None


def event_document(entry: FeedEntry) -> dict[str, Any]:
    """The event as its JSON document: the API, the stream, the CLI and webhooks all send it."""
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
