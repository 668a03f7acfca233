"""Field rules of the Item: each returns the canonical value or raises ValueError. The limits
here are the only definition of the Item's bounds; the schema and help texts derive from them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from decimal import Decimal
from typing import Final

SKU_MAX: Final = 64
NAME_MAX: Final = 200
DESCRIPTION_MAX: Final = 2000
#: A price has at most this many digits before the point and this many after it.
PRICE_DIGITS: Final = 10
PRICE_PLACES: Final = 2
PRICE_LIMIT: Final = Decimal(10) ** PRICE_DIGITS  # exclusive
PRICE_QUANTUM: Final = Decimal(10) ** -PRICE_PLACES
PRICE_MAX: Final = PRICE_LIMIT - PRICE_QUANTUM
#: Quantities and versions are stored as 32-bit signed integers.
INT32_MAX: Final = 2**31 - 1
QUANTITY_MAX: Final = INT32_MAX
VERSION_MAX: Final = INT32_MAX
#: The most items one batch (a create request, an import's insert) may hold.
BATCH_MAX: Final = 1000

_SKU_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9._-]*")
#: A price as text: ASCII digits only, refusing the other forms (other scripts' digits, exponents)
#: that Decimal() would accept.
_PRICE_TEXT: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.([0-9]+))?")
#: What a sku may carry around it, trimmed away (a sku is ASCII).
SKU_SPACE: Final = " \t\r\n"
#: Code points that show nothing on their own (inclusive ranges): a name needs one outside them.
INVISIBLE: Final = (
    (0x0000, 0x0020), (0x007F, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605),
    (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x206F), (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
_INVISIBLE_STARTS: Final = [start for start, _ in INVISIBLE]


def _check_text(text: str) -> None:
    """PostgreSQL text holds UTF-8 without NUL: lone surrogates and NUL cannot be stored."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None


def normalize_sku(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value.isascii():  # before upper-casing: Unicode rules turn 'ß' into 'SS'
        raise ValueError("must be ASCII: letters, digits, '.', '_' and '-'")
    sku = value.strip(SKU_SPACE).upper()
    if not 1 <= len(sku) <= SKU_MAX:
        raise ValueError(f"must be 1 to {SKU_MAX} characters after trimming")
    if not _SKU_PATTERN.fullmatch(sku):
        raise ValueError(
            "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'"
        )
    return sku


def is_visible(char: str) -> bool:
    code = ord(char)
    at = bisect_right(_INVISIBLE_STARTS, code) - 1
    return at < 0 or code > INVISIBLE[at][1]


def normalize_name(value: object) -> str:
    """The name trimmed and in Unicode NFC, so that one name has one spelling: "Café" typed
    with a combining accent is the same name (and found by the same search) as with "é"."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    _check_text(value)
    name = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"must be 1 to {NAME_MAX} characters after trimming")
    if not any(map(is_visible, name)):
        raise ValueError("must contain a visible character")
    return name


def normalize_description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string or null")
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"must be at most {DESCRIPTION_MAX} characters")
    _check_text(value)
    return value


def normalize_price(value: object) -> Decimal:
    """The price as an exact Decimal with 2 places (-0 is 0.00); a value with more places is
    refused rather than rounded."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError("must be a decimal number or a string holding one")
    if isinstance(value, str):
        price = _price_from_text(value)
    else:
        # str() first: a float such as 0.1 must mean 0.1, not its binary expansion.
        price = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not price.is_finite():
        raise ValueError("must be a finite number")
    if price < 0:
        raise ValueError("must be at least 0")
    if price >= PRICE_LIMIT:
        raise ValueError(f"must be less than {PRICE_LIMIT}")
    if price != price.quantize(PRICE_QUANTUM):
        raise ValueError(f"must have at most {PRICE_PLACES} decimal places")
    return price.quantize(PRICE_QUANTUM).copy_abs()


def _price_from_text(text: str) -> Decimal:
    match = _PRICE_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(
            "must be a decimal number: ASCII digits without leading zeros, optionally a '.' "
            "and one or two digits, nothing around them"
        )
    places = match.group(1)
    if places is not None and len(places) > PRICE_PLACES:
        raise ValueError(f"must have at most {PRICE_PLACES} decimal places")
    return Decimal(text)


def normalize_quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if value < 0:
        raise ValueError("must be at least 0")
    if value > QUANTITY_MAX:
        raise ValueError(f"must be at most {QUANTITY_MAX}")
    return value


def validate_delta(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if value == 0:
        raise ValueError("must not be 0")
    if abs(value) > QUANTITY_MAX:
        raise ValueError(f"must be between -{QUANTITY_MAX} and {QUANTITY_MAX}")
    return value
