"""What happened to an item: the change feed's events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class EventType(StrEnum):
    CREATED = "item.created"
    UPDATED = "item.updated"
    STOCK_ADJUSTED = "item.stock_adjusted"
    DELETED = "item.deleted"


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """One change to one item: the item's version after it, and the new values of the fields it
    changed (every field for a creation, none for a deletion: `version` is the deleted one's)."""

    id: int
    type: EventType
    item_id: UUID
    sku: str
    version: int
    changes: Mapping[str, object]
    occurred_at: datetime
