"""Request and response bodies as the OpenAPI document describes them.

Requests are checked for shape here (types, unknown fields); the Item's rules are the domain's and
are checked there, so both interfaces (HTTP and CLI) enforce exactly the same ones.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from domain import rules

_FORBID = ConfigDict(extra="forbid")
_INTEGER_BOUND = 2**63

# The documented schema admits exactly what the domain accepts, so every request it admits is
# accepted (schemathesis checks that): skus and names are trimmed, and the patterns say so. At run
# time the fields are checked for type only: the domain owns the rules.
_NO_NUL = r"^[^\u0000]*$"
_SKU_SPACE = "".join(f"\\u{ord(c):04x}" for c in rules.SKU_SPACE)


def _range(first: int, last: int) -> str:
    # BMP code points as \uXXXX escapes (ECMA-262 and Python read both); the few beyond it as
    # the characters themselves.
    def char(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return char(first) if first == last else f"{char(first)}-{char(last)}"


_VISIBLE = "[^" + "".join(_range(first, last) for first, last in rules.INVISIBLE) + "]"
_SKU_SCHEMA = {
    "type": "string",
    "pattern": (
        rf"^[{_SKU_SPACE}]*[A-Za-z0-9][A-Za-z0-9._-]{{0,{rules.SKU_MAX - 1}}}[{_SKU_SPACE}]*$"
    ),
    "description": (
        f"Trimmed of surrounding spaces, tabs and line breaks, then upper-cased: 1-{rules.SKU_MAX}"
        " of A-Z 0-9 . _ -, the first A-Z or 0-9."
    ),
    "examples": ["ABC-123"],
}
_NAME_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": rules.NAME_MAX,
    "pattern": rf"^[^\u0000]*{_VISIBLE}[^\u0000]*$",
    "description": (
        f"Trimmed and normalised to Unicode NFC: 1-{rules.NAME_MAX} characters, at least one of "
        "them visible (not a space, control, format or other invisible character)."
    ),
}
_DESCRIPTION_SCHEMA = {"type": "string", "maxLength": rules.DESCRIPTION_MAX, "pattern": _NO_NUL}
_PRICE_SCHEMA = {
    "anyOf": [
        {
            "type": "number",
            "minimum": 0,
            "maximum": float(rules.PRICE_MAX),
            "multipleOf": float(rules.PRICE_QUANTUM),
        },
        {
            "type": "string",
            "pattern": (
                rf"^(0|[1-9][0-9]{{0,{rules.PRICE_DIGITS - 1}}})"
                rf"(\.[0-9]{{1,{rules.PRICE_PLACES}}})?$"
            ),
        },
    ],
    "description": (
        f"At least 0, below 10^{rules.PRICE_DIGITS}, at most {rules.PRICE_PLACES} decimal "
        "places; a number or a string of ASCII digits (no leading zero, no spaces)."
    ),
    "examples": ["12.50"],
}
_QUANTITY_SCHEMA = {
    "type": "integer",
    "minimum": 0,
    "maximum": rules.QUANTITY_MAX,
    "description": "Stock on hand.",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _json_integer(value: object) -> object:
    """JSON Schema counts 3.0 as an integer; so does this API (but never "3" or true).

    A JSON number with a fraction or exponent arrives as an exact Decimal (see exact_json.py);
    one far beyond any integer field is left as it is, to be refused, not expanded.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and value.copy_abs() < _INTEGER_BOUND  # abs() would overflow the context
        and value == value.to_integral_value()
    ):
        return int(value)
    return value


JsonInt = Annotated[StrictInt, BeforeValidator(_json_integer)]
Sku = Annotated[StrictStr, WithJsonSchema(_SKU_SCHEMA)]
Name = Annotated[StrictStr, WithJsonSchema(_NAME_SCHEMA)]
Description = Annotated[StrictStr | None, WithJsonSchema(_nullable(_DESCRIPTION_SCHEMA))]


def _price_input(value: object) -> object:
    """Text stays text and a number stays an exact number: the domain holds each to its rule."""
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("price_type", "must be a decimal number or a string holding one")


Price = Annotated[
    StrictStr | int | Decimal, PlainValidator(_price_input), WithJsonSchema(_PRICE_SCHEMA)
]
Quantity = Annotated[JsonInt, WithJsonSchema(_QUANTITY_SCHEMA)]
# In a PATCH, null is accepted at run time (and rejected by the domain with a clear message)
# but not documented: only `description` may be null.
PatchSku = Annotated[StrictStr | None, WithJsonSchema(_SKU_SCHEMA)]
PatchName = Annotated[StrictStr | None, WithJsonSchema(_NAME_SCHEMA)]
PatchPrice = Annotated[Price | None, WithJsonSchema(_PRICE_SCHEMA)]
PatchQuantity = Annotated[JsonInt | None, WithJsonSchema(_QUANTITY_SCHEMA)]


class ItemCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sku": "abc-123", "name": "Widget", "price": "12.50", "quantity": 10},
            ]
        },
    )

    sku: Sku
    name: Name
    description: Description = None
    price: Price
    quantity: Quantity = 0


class ItemUpdate(BaseModel):
    """Only the fields sent change; null is allowed only for `description`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Widget, blue"}], "minProperties": 1},
    )

    sku: PatchSku = None
    name: PatchName = None
    description: Description = None
    price: PatchPrice = None
    quantity: PatchQuantity = None


class ItemsBatchCreate(BaseModel):
    model_config = _FORBID
    items: list[ItemCreate] = Field(min_length=1, max_length=rules.BATCH_MAX)


class StockAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"delta": -1}]})
    delta: Annotated[
        JsonInt,
        WithJsonSchema(
            {
                "type": "integer",
                "minimum": -rules.QUANTITY_MAX,
                "maximum": rules.QUANTITY_MAX,
                "not": {"const": 0},
                "description": "Non-zero change to the stock on hand.",
            }
        ),
    ]


class ItemOut(BaseModel):
    id: UUID
    sku: str
    name: str
    description: str | None
    price: str = Field(pattern=rf"^\d+\.\d{{{rules.PRICE_PLACES}}}$", examples=["12.50"])
    quantity: int = Field(ge=0)
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


class ItemsOut(BaseModel):
    items: list[ItemOut]


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class FieldProblem(BaseModel):
    pointer: str | None = Field(default=None, description="JSON Pointer into the request body.")
    parameter: str | None = Field(default=None, description="Name of a query or header parameter.")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None
    errors: list[FieldProblem] | None = None


class Health(BaseModel):
    status: str


class ReplicaHealth(BaseModel):
    name: str = Field(description="The standby's host:port.", examples=["replica-1:5432"])
    in_rotation: bool = Field(description="Whether reads may run on it now.")
    lag_seconds: float | None = Field(description="How far behind the primary it was last seen.")
    problem: str = Field(description="Why it is out of rotation (empty when it is in).")


class SchemaHealth(BaseModel):
    revision: str | None = Field(description="The database's migration revision.")
    state: str | None = Field(
        description="How it stands to this release.",
        examples=["at head", "ahead by compatible revisions"],
    )


class Readiness(Health):
    schema_: SchemaHealth | None = Field(
        default=None, alias="schema", description="The database schema this release serves."
    )
    replicas: list[ReplicaHealth] = Field(
        default_factory=list,
        description="The configured read replicas (ready follows the primary).",
    )


class Liveness(Health):
    version: str = Field(description="The running service's version.", examples=["0.1.0"])
