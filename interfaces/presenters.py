"""How an Item looks outside the process: one JSON shape, byte for byte the same from the HTTP
API, the CLI's `--json`, exports and scripts."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, Final

import orjson

from domain.item import Item

__all__ = ["CSV_COLUMNS", "JSON_OPTIONS", "item_csv_row", "item_json", "present_item"]

JSON_OPTIONS: Final = orjson.OPT_UTC_Z
CSV_COLUMNS: Final = tuple(field.name for field in fields(Item))


def present_item(item: Item) -> dict[str, Any]:
    """Built by hand, on every response; a test holds it to `ItemOut`, which documents it."""
    return {
        "id": item.id,
        "sku": item.sku,
        "name": item.name,
        "description": item.description,
        "price": f"{item.price:.2f}",
        "quantity": item.quantity,
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def item_json(item: Item) -> bytes:
    return orjson.dumps(present_item(item), option=JSON_OPTIONS)


def _timestamp(value: datetime) -> str:
    # Rendered by orjson, so the text is exactly the JSON's (minus the quotes).
    return orjson.dumps(value, option=JSON_OPTIONS)[1:-1].decode()


def item_csv_row(item: Item) -> list[str]:
    """The item as CSV cells; a null description is an empty cell."""
    return [
        str(item.id),
        item.sku,
        item.name,
        item.description or "",
        f"{item.price:.2f}",
        str(item.quantity),
        str(item.version),
        _timestamp(item.created_at),
        _timestamp(item.updated_at),
    ]
