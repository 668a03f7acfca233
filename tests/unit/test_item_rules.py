"""The Item's invariants, as properties over generated input."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import rules
from domain.errors import (
    InsufficientStock,
    ItemValidationError,
    StockLimitExceeded,
    VersionConflict,
)
from domain.item import NULLABLE_FIELDS, WRITABLE_FIELDS, Item, ItemChanges, NewItem

SKU_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
skus = st.builds(
    lambda first, rest, pad: f"{pad}{first}{rest}{pad}",
    st.sampled_from("ABCxyz0189"),
    st.text(SKU_CHARS, max_size=63),
    st.sampled_from(["", " ", "\t"]),
)
prices = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)
quantities = st.integers(min_value=0, max_value=rules.QUANTITY_MAX)


def make_item(quantity: int = 10) -> Item:
    return Item.create(
        NewItem.parse({"sku": "A-1", "name": "Widget", "price": "1.00", "quantity": quantity})
    )


@given(skus)
def test_a_valid_sku_is_stored_trimmed_and_upper_case(raw: str) -> None:
    sku = rules.normalize_sku(raw)
    assert sku == raw.strip().upper()
    assert rules.normalize_sku(sku) == sku  # idempotent


@given(st.text(max_size=80))
def test_a_sku_is_either_canonical_or_rejected(raw: str) -> None:
    try:
        sku = rules.normalize_sku(raw)
    except ValueError:
        return
    assert 1 <= len(sku) <= 64
    assert sku[0].isalnum()
    assert all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-" for c in sku)


@pytest.mark.parametrize("raw", ["", "   ", "-ABC", "A B", "ÄBC", "A" * 65, "a/b", 12])
def test_invalid_skus_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match="must"):
        rules.normalize_sku(raw)


@given(prices)
def test_prices_with_two_places_in_range_are_accepted_in_every_input_form(price: Decimal) -> None:
    assert rules.normalize_price(price) == price
    assert rules.normalize_price(str(price)) == price
    assert str(rules.normalize_price(price)).count(".") == 1


@pytest.mark.parametrize(
    "raw", ["1.234", "-0.01", "10000000000", "1e10", "NaN", "Infinity", "abc", True, None, [1]]
)
def test_invalid_prices_are_rejected(raw: object) -> None:
    with pytest.raises(ValueError, match="must"):
        rules.normalize_price(raw)


def test_a_float_price_means_its_decimal_text() -> None:
    assert rules.normalize_price(0.1) == Decimal("0.10")
    assert rules.normalize_price(12) == Decimal("12.00")


@pytest.mark.parametrize("raw", ["straße", "ﬁ1", "ǆ1", "\uff211", "A\u00a0"])
def test_a_sku_must_be_ascii_before_it_is_upper_cased(raw: str) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        rules.normalize_sku(raw)


@given(st.text(max_size=20))
def test_an_accepted_sku_was_ascii_as_sent(raw: str) -> None:
    try:
        rules.normalize_sku(raw)
    except ValueError:
        return
    assert raw.isascii()


@pytest.mark.parametrize(
    "raw", ["-0", "-0.0", "-0.00", Decimal("-0"), Decimal("-0E+3"), -0.0, 0, "0"]
)
def test_minus_zero_is_zero(raw: object) -> None:
    assert str(rules.normalize_price(raw)) == "0.00"


@pytest.mark.parametrize(
    "raw",
    [
        "1_000",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11\uff12",  # full-width digits
        "1e2",
        "1E-400",
        "+1",
        "0x10",
        "1 2",
        ".5",
        "1.500",
        "1,50",
        " 5",
        "5 ",
        "5\n",
        "\t5",
        "05",
        "00.5",
        "-05",
        "5.",
        " -0 ",
        Decimal("1E-400"),
        Decimal("0.001"),
        Decimal("-1E-999999"),
        Decimal("1E+999999"),
    ],
)
def test_prices_that_are_not_plain_ascii_decimals_with_two_places_are_rejected(
    raw: object,
) -> None:
    with pytest.raises(ValueError, match="must"):
        rules.normalize_price(raw)


PRICE_TEXT = r"-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?"


@given(
    st.text(st.characters(codec="utf-8"), max_size=14) | st.from_regex(PRICE_TEXT, fullmatch=True)
)
def test_a_price_text_is_accepted_only_as_ascii_digits_with_at_most_two_places(raw: str) -> None:
    try:
        price = rules.normalize_price(raw)
    except ValueError:
        return
    assert re.fullmatch(PRICE_TEXT, raw)
    assert price == Decimal(raw)
    assert price >= 0
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", str(price))


@given(st.decimals(allow_nan=True, allow_infinity=True) | st.decimals(places=2))
def test_a_number_is_accepted_exactly_when_its_value_is_a_price(raw: Decimal) -> None:
    is_price = raw.is_finite() and 0 <= raw < 10**10 and raw == raw.quantize(Decimal("0.01"))
    try:
        price = rules.normalize_price(raw)
    except ValueError:
        assert not is_price
        return
    assert is_price
    assert price == raw
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", str(price))


def shows_nothing(char: str) -> bool:
    """Unicode's own account of an invisible character, independent of the rule's table."""
    code, category = ord(char), unicodedata.category(char)
    return (
        category in {"Cc", "Cf", "Zs", "Zl", "Zp"}
        or "VARIATION SELECTOR" in unicodedata.name(char, "")
        or ("HANGUL" in unicodedata.name(char, "") and "FILLER" in unicodedata.name(char, ""))
        or char in "\u034f\u17b4\u17b5\u2800"
        or (category == "Cn" and (0x2060 <= code <= 0x206F or 0xFFF0 <= code <= 0xFFF8))
        or 0xE0000 <= code <= 0xE0FFF
    )


@given(st.text(max_size=250))
def test_names_are_trimmed_normalised_and_bounded(raw: str) -> None:
    trimmed = unicodedata.normalize("NFC", raw.strip())
    try:
        name = rules.normalize_name(raw)
    except ValueError:
        assert not 1 <= len(trimmed) <= 200 or "\x00" in raw or all(map(shows_nothing, trimmed))
        return
    assert name == trimmed
    assert not all(map(shows_nothing, name))
    assert 1 <= len(name) <= 200


def test_a_name_has_one_spelling_in_nfc() -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    assert rules.normalize_name(decomposed) == rules.normalize_name(composed) == composed


INVISIBLE_NAMES = [
    "\u200b",  # zero width space (format)
    "\u200b\u200c\u200d\u2060\ufeff",  # zero width (non-)joiners, word joiner, BOM
    "\u00ad",  # soft hyphen
    "\u202e\u2066",  # bidirectional controls
    "\u3164",  # Hangul filler (a letter that shows nothing)
    "\u115f\u1160\uffa0",  # more fillers
    "\ufe0f\u034f",  # a variation selector, the combining grapheme joiner
    "\U000e0041\U000e007f",  # tag characters
    "\u2800",  # blank Braille pattern
    "\u00a0\u2007\u3000",  # no-break, figure and ideographic spaces
    "\x7f\x85",  # controls
]


@pytest.mark.parametrize("raw", INVISIBLE_NAMES)
def test_a_name_needs_a_visible_character(raw: str) -> None:
    assert all(map(shows_nothing, raw))
    with pytest.raises(ValueError, match="must"):
        rules.normalize_name(raw)
    assert rules.normalize_name(f"x{raw}y") == f"x{raw}y"


@given(quantities, st.integers(min_value=-(2**31) + 1, max_value=2**31 - 1))
def test_adjusting_stock_never_makes_it_negative(quantity: int, delta: int) -> None:
    item = make_item(quantity)
    try:
        adjusted = item.adjust_stock(delta)
    except InsufficientStock:
        assert quantity + delta < 0
        return
    except ItemValidationError:
        assert delta == 0
        return
    except StockLimitExceeded:
        assert quantity + delta > rules.QUANTITY_MAX
        return
    assert adjusted.quantity == quantity + delta >= 0
    assert adjusted.version == item.version + 1
    assert adjusted.id == item.id


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.text(min_size=1, max_size=20),
            "price": prices,
            "quantity": quantities,
        },
    )
)
def test_every_change_bumps_the_version_by_exactly_one(raw: dict[str, object]) -> None:
    item = make_item()
    try:
        changes = ItemChanges.parse(raw)
    except ItemValidationError:
        return
    updated = item.apply(changes)
    assert updated.version == item.version + 1
    for field, value in changes.values.items():
        assert getattr(updated, field) == value
    assert updated.created_at == item.created_at
    assert updated.updated_at >= item.updated_at


def test_new_items_start_at_version_one_with_a_time_ordered_id() -> None:
    first, second = make_item(), make_item()
    assert first.version == 1
    assert first.id.version == 7
    assert first.id < second.id
    assert first.created_at.tzinfo is UTC
    assert first.created_at == first.updated_at <= datetime.now(UTC)


def test_parsing_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ItemValidationError) as caught:
        NewItem.parse({"sku": "", "price": "-1", "quantity": -1, "version": 3})
    fields = {e.field for e in caught.value.errors}
    assert fields == {"sku", "name", "price", "quantity", "version"}
    messages = {e.field: e.message for e in caught.value.errors}
    assert messages["version"] == "is read-only"
    assert messages["name"] == "is required"


@pytest.mark.parametrize("field", WRITABLE_FIELDS)
def test_null_is_only_allowed_for_a_field_whose_default_is_null(field: str) -> None:
    if field in NULLABLE_FIELDS:
        assert ItemChanges.parse({field: None}).values == {field: None}
    else:
        with pytest.raises(ItemValidationError, match=f"^{field}: must not be null$"):
            ItemChanges.parse({field: None})


def test_null_is_allowed_for_the_description_and_not_for_the_name() -> None:
    assert ItemChanges.parse({"description": None}).values == {"description": None}
    with pytest.raises(ItemValidationError, match="name: must not be null"):
        ItemChanges.parse({"name": None})


def test_an_empty_change_is_rejected() -> None:
    with pytest.raises(ItemValidationError, match="at least one field"):
        ItemChanges.parse({})


def test_a_stale_version_is_a_conflict() -> None:
    item = make_item()
    item.check_version(None)
    item.check_version(1)
    with pytest.raises(VersionConflict):
        item.check_version(2)


def test_the_invisible_table_agrees_with_unicode_everywhere() -> None:
    disagree = [
        hex(code)
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF and shows_nothing(chr(code)) == rules.is_visible(chr(code))
    ]
    assert disagree == []
