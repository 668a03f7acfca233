"""How an Item looks outside the process: one JSON shape, byte for byte the same from the HTTP
API, the CLI's `--json`, exports and scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson

from domain.item import ITEM_FIELDS, Item

__all__ = ["CSV_COLUMNS", "JSON_OPTIONS", "item_csv_row", "item_json", "present_item"]

JSON_OPTIONS: Final = orjson.OPT_UTC_Z
CSV_COLUMNS: Final = ITEM_FIELDS


def present_item(item: Item) -> dict[str, Any]:
    """Every field of the item as it is, but the price: a string with its two decimals."""
    presented: dict[str, Any] = {}
    for name in ITEM_FIELDS:  # a loop costs less than a comprehension, for every listed item
        presented[name] = getattr(item, name)
    presented["price"] = f"{item.price:.2f}"
    return presented


def item_json(item: Item) -> bytes:
    return orjson.dumps(present_item(item), option=JSON_OPTIONS)


def _timestamp(value: datetime) -> str:
    # Rendered by orjson, so the text is exactly the JSON's (minus the quotes).
    return orjson.dumps(value, option=JSON_OPTIONS)[1:-1].decode()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _timestamp(value)
    return str(value)


def item_csv_row(item: Item) -> list[str]:
    """The item's JSON values as CSV cells; null is an empty cell."""
    return [_cell(value) for value in present_item(item).values()]
