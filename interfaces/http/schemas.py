"""Request and response bodies as the OpenAPI document describes them.

Requests are checked for shape here (types, unknown fields); the Item's rules are the domain's and
are checked there, so both interfaces (HTTP and CLI) enforce exactly the same ones.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from domain.item import Item

_FORBID = ConfigDict(extra="forbid")

Sku = Annotated[
    StrictStr,
    Field(
        description="Trimmed and upper-cased; 1-64 of A-Z 0-9 . _ - starting with A-Z or 0-9.",
        examples=["ABC-123"],
    ),
]
Name = Annotated[StrictStr, Field(description="1-200 characters after trimming.")]
Description = Annotated[StrictStr | None, Field(description="At most 2000 characters.")]
Price = Annotated[
    Decimal,
    Field(
        description="At least 0, below 10^10, at most 2 decimal places; a number or a string.",
        examples=["12.50"],
    ),
]
Quantity = Annotated[StrictInt, Field(description="Stock on hand, at least 0.")]


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
        extra="forbid", json_schema_extra={"examples": [{"name": "Widget, blue"}]}
    )

    sku: Sku | None = None
    name: Name | None = None
    description: Description = None
    price: Price | None = None
    quantity: Quantity | None = None


class ItemsBatchCreate(BaseModel):
    model_config = _FORBID
    items: list[ItemCreate] = Field(min_length=1, max_length=1000)


class StockAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"delta": -1}]})
    delta: StrictInt = Field(description="Non-zero change to the stock on hand.")


class ItemOut(BaseModel):
    id: UUID
    sku: str
    name: str
    description: str | None
    price: str = Field(pattern=r"^\d+\.\d{2}$", examples=["12.50"])
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


def present_item(item: Item) -> dict[str, Any]:
    """The JSON of an Item (built by hand: this is the hottest path of every response)."""
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
