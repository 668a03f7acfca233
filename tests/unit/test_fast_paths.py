"""The hot path's shortcuts give exactly what the long way gives: an item read from the database,
its id and a request body's JSON."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg.pgproto.pgproto as pgproto
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.item import Item, NewItem
from infrastructure.db.mappers import row_to_item, standard_uuid
from interfaces.http.exact_json import exact_json_loads

AT = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)


def stored_row(item_id: uuid.UUID) -> tuple[Any, ...]:
    """A row as the repository reads it: an item's values in the order of its fields."""
    new = NewItem.parse({"sku": "ABC-1", "name": "Widget", "price": "12.50", "quantity": 7})
    item = dataclasses.replace(Item.create(new, now=AT), id=item_id, version=3)
    return dataclasses.astuple(item)


def test_an_item_from_storage_is_the_item_the_constructor_builds() -> None:
    item_id = uuid.uuid4()
    row = stored_row(item_id)
    stored = row_to_item(row)
    built = Item(*row)
    assert stored == built
    assert hash(stored) == hash(built)
    assert dataclasses.astuple(stored) == dataclasses.astuple(built)
    assert pickle.loads(pickle.dumps(stored)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.quantity = 8  # type: ignore[misc]


def test_a_row_maps_to_an_item_with_the_standard_librarys_uuid() -> None:
    text = "0192f0c1-7a2b-7c3d-8e4f-5a6b7c8d9e0f"
    row = stored_row(uuid.UUID(text))
    item = row_to_item((pgproto.UUID(text), *row[1:]))
    assert type(item.id) is uuid.UUID
    assert item == Item(*row)
    assert (str(item.id), item.id.version, item.id.is_safe) == (text, 7, uuid.SafeUUID.unknown)
    assert pickle.loads(pickle.dumps(item.id)) == uuid.UUID(text)


@given(st.uuids())
def test_the_standard_uuid_equals_the_one_parsed_from_text(value: uuid.UUID) -> None:
    converted = standard_uuid(pgproto.UUID(str(value)))
    assert (converted, hash(converted), repr(converted)) == (value, hash(value), repr(value))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32-le"])
def test_a_body_is_parsed_as_json_loads_parses_it(encoding: str) -> None:
    body = '{"price": 0.10000000000000001, "name": "Wídget", "n": [1e-400, 2]}'.encode(encoding)
    parsed = exact_json_loads(body)
    assert parsed == json.loads(body, parse_float=Decimal)
    assert parsed["price"] == Decimal("0.10000000000000001")


@pytest.mark.parametrize("body", [b"{bad", b"\xff\xfe", b"\xc4\xa0ee\xff", b""])
def test_a_bad_body_fails_as_json_loads_fails(body: bytes) -> None:
    try:
        json.loads(body, parse_float=Decimal)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        expected = exc
    else:
        pytest.fail("json.loads accepted it")
    with pytest.raises(type(expected), match="^" + re.escape(str(expected)) + "$"):
        exact_json_loads(body)
