"""The Item's bounds and shapes agree wherever they are stated: the domain's rules, the table's
column types and CHECK constraints, the OpenAPI schemas, and the JSON and CSV renderings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint, Integer, Numeric
from sqlalchemy.dialects import postgresql

from domain import rules
from domain.item import (
    ITEM_FIELDS,
    NULLABLE_FIELDS,
    READ_ONLY_FIELDS,
    REQUIRED_FIELDS,
    WRITABLE_FIELDS,
    Item,
    NewItem,
)
from infrastructure.db.tables import ITEMS
from interfaces.cli import items as items_commands
from interfaces.http.schemas import (
    ItemCreate,
    ItemOut,
    ItemsBatchCreate,
    ItemUpdate,
    StockAdjustment,
)
from interfaces.presenters import CSV_COLUMNS, item_csv_row, item_json, present_item

# The table.


@pytest.mark.parametrize(
    ("column", "length"),
    [("sku", rules.SKU_MAX), ("name", rules.NAME_MAX), ("description", rules.DESCRIPTION_MAX)],
)
def test_text_columns_hold_exactly_the_domains_longest_value(column: str, length: int) -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    assert ITEMS.c[column].type.compile(dialect=dialect) == f"VARCHAR({length})"


def test_the_price_column_holds_every_price_the_domain_accepts_and_no_more() -> None:
    price_type = ITEMS.c.price.type
    assert isinstance(price_type, Numeric)
    assert (price_type.precision, price_type.scale) == (
        rules.PRICE_DIGITS + rules.PRICE_PLACES,
        rules.PRICE_PLACES,
    )
    assert price_type.precision is not None
    assert len(rules.PRICE_MAX.as_tuple().digits) == price_type.precision
    assert rules.normalize_price(rules.PRICE_MAX) == rules.PRICE_MAX
    with pytest.raises(ValueError, match="less than"):
        rules.normalize_price(rules.PRICE_LIMIT)


@pytest.mark.parametrize("column", ["quantity", "version"])
def test_counters_are_postgresql_integers_whose_range_is_the_domains(column: str) -> None:
    assert type(ITEMS.c[column].type) is Integer  # PostgreSQL's integer: 4 bytes, signed
    assert rules.QUANTITY_MAX == rules.VERSION_MAX == 2**31 - 1


def _check_bounds() -> dict[str, Decimal]:
    """The lower bound each CHECK constraint of the table puts on its column."""
    bounds: dict[str, Decimal] = {}
    for constraint in ITEMS.constraints:
        if isinstance(constraint, CheckConstraint):
            match = re.fullmatch(r"(\w+) >= (\d+)", str(constraint.sqltext))
            assert match, f"a CHECK this test does not know: {constraint.sqltext}"
            bounds[match[1]] = Decimal(match[2])
    return bounds


def test_the_check_constraints_are_the_domains_lower_bounds() -> None:
    bounds = _check_bounds()
    assert set(bounds) == {"quantity", "price", "version"}
    assert rules.normalize_quantity(int(bounds["quantity"])) == bounds["quantity"]
    with pytest.raises(ValueError, match="at least"):
        rules.normalize_quantity(int(bounds["quantity"]) - 1)
    assert rules.normalize_price(bounds["price"]) == bounds["price"]
    with pytest.raises(ValueError, match="at least"):
        rules.normalize_price(bounds["price"] - rules.PRICE_QUANTUM)
    new = NewItem.parse({"sku": "A", "name": "a", "price": "0"})
    assert Item.create(new).version == bounds["version"]


# The OpenAPI schemas.


def test_the_create_schema_states_the_domains_bounds() -> None:
    fields = ItemCreate.model_json_schema()["properties"]
    sku = re.compile(fields["sku"]["pattern"])
    assert sku.fullmatch("A" * rules.SKU_MAX)
    assert not sku.fullmatch("A" * (rules.SKU_MAX + 1))
    assert f"1-{rules.SKU_MAX} " in fields["sku"]["description"]
    assert fields["name"]["maxLength"] == rules.NAME_MAX
    assert fields["description"]["anyOf"][0]["maxLength"] == rules.DESCRIPTION_MAX
    number, text = fields["price"]["anyOf"]
    assert Decimal(str(number["maximum"])) == rules.PRICE_MAX
    assert Decimal(str(number["multipleOf"])) == rules.PRICE_QUANTUM
    price_text = re.compile(text["pattern"])
    assert price_text.fullmatch(str(rules.PRICE_MAX))
    assert not price_text.fullmatch(str(rules.PRICE_LIMIT))
    assert not price_text.fullmatch(f"1.{'0' * (rules.PRICE_PLACES + 1)}")
    assert (fields["quantity"]["minimum"], fields["quantity"]["maximum"]) == (
        0,
        rules.QUANTITY_MAX,
    )


def test_the_batch_and_adjustment_schemas_state_the_domains_bounds() -> None:
    batch = ItemsBatchCreate.model_json_schema()["properties"]["items"]
    assert (batch["minItems"], batch["maxItems"]) == (1, rules.BATCH_MAX)
    delta = StockAdjustment.model_json_schema()["properties"]["delta"]
    assert (delta["minimum"], delta["maximum"]) == (-rules.QUANTITY_MAX, rules.QUANTITY_MAX)


# The renderings.

timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
items = st.builds(
    Item,
    id=st.uuids(),
    sku=st.from_regex(r"[A-Z0-9][A-Z0-9._-]{0,63}", fullmatch=True),
    name=st.text(min_size=1, max_size=rules.NAME_MAX),
    description=st.none() | st.text(max_size=50),
    price=st.decimals(min_value=0, max_value=rules.PRICE_MAX, places=rules.PRICE_PLACES),
    quantity=st.integers(min_value=0, max_value=rules.QUANTITY_MAX),
    version=st.integers(min_value=1, max_value=rules.VERSION_MAX),
    created_at=timestamps,
    updated_at=timestamps,
)


def test_the_response_model_the_renderer_and_the_csv_columns_name_the_same_fields() -> None:
    assert tuple(ItemOut.model_fields) == CSV_COLUMNS


@given(items)
def test_the_response_model_documents_exactly_what_the_renderer_renders(item: Item) -> None:
    rendered = item_json(item)
    assert tuple(present_item(item)) == tuple(ItemOut.model_fields)
    # Validation holds the rendering to every documented constraint (the price pattern, ge=).
    documented = ItemOut.model_validate_json(rendered)
    assert documented.model_dump(mode="json") == orjson.loads(rendered)


@given(items)
def test_a_csv_row_holds_the_json_values_as_text(item: Item) -> None:
    values = orjson.loads(item_json(item))
    expected = ["" if values[name] is None else str(values[name]) for name in CSV_COLUMNS]
    assert item_csv_row(item) == expected


# The field lists: each shape that names the Item's fields one by one names all of them.


def test_the_field_lists_follow_the_entity() -> None:
    assert ITEM_FIELDS[0] == "id"  # the mapper reads the id first
    assert READ_ONLY_FIELDS == ("id", "version", "created_at", "updated_at")
    assert [f for f in ITEM_FIELDS if f in WRITABLE_FIELDS] == list(WRITABLE_FIELDS)
    assert REQUIRED_FIELDS == ("sku", "name", "price")


@pytest.mark.parametrize("field", ITEM_FIELDS)
def test_every_field_is_a_column_null_only_where_the_domain_allows(field: str) -> None:
    assert ITEMS.c[field].nullable == (field in NULLABLE_FIELDS)


def test_the_table_has_no_column_the_entity_lacks() -> None:
    assert set(ITEMS.c.keys()) == set(ITEM_FIELDS)


def test_the_request_bodies_take_every_writable_field() -> None:
    assert tuple(ItemCreate.model_fields) == WRITABLE_FIELDS
    assert tuple(ItemUpdate.model_fields) == WRITABLE_FIELDS
    assert tuple(ItemOut.model_fields) == ITEM_FIELDS


@pytest.mark.parametrize("command", ["add", "update"])
def test_the_command_line_has_an_option_for_every_writable_field(command: str) -> None:
    group = typer.main.get_group(items_commands.app)
    options = {param.name for param in group.commands[command].params}
    assert set(WRITABLE_FIELDS) <= options
    if command == "update":
        assert {f"clear_{field}" for field in NULLABLE_FIELDS} <= options
