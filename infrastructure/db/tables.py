"""The SQLModel table model: the single source of the schema (migrations are checked against it)."""

from datetime import datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Numeric,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from domain import rules

# Stable constraint names, so migrations can refer to them and errors can be recognised.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SKU_UNIQUE: Final = "uq_items_sku"


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        # Keyset pagination seeks on (sort column, id) for each sort order.
        Index("ix_items_created_at_id", "created_at", "id"),
        Index("ix_items_name_id", "name", "id"),
        # Names sort case-insensitively (see repository.py).
        Index("ix_items_lower_name_id", text("lower(name)"), "id"),
        Index("ix_items_price_id", "price", "id"),
        Index("ix_items_sku_id", "sku", "id"),
    )

    id: UUID = Field(primary_key=True)
    sku: str = Field(sa_column=Column(String(rules.SKU_MAX), nullable=False, unique=True))
    name: str = Field(max_length=rules.NAME_MAX)
    description: str | None = Field(default=None, max_length=rules.DESCRIPTION_MAX)
    price: Decimal = Field(
        sa_column=Column(
            Numeric(rules.PRICE_DIGITS + rules.PRICE_PLACES, rules.PRICE_PLACES), nullable=False
        )
    )
    # PostgreSQL's integer: 32 bits, the domain's QUANTITY_MAX and VERSION_MAX.
    quantity: int = Field(default=0)
    version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class IdempotencyRow(SQLModel, table=True):
    """The first successful response to an Idempotency-Key, per caller (`scope`)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    scope: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status: int
    headers: list[list[str]] = Field(sa_column=Column(JSONB, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


#: The Core table behind ItemRow (SQLModel types `__table__` loosely), for compiled statements.
ITEMS: Final[Table] = ItemRow.__table__  # type: ignore[attr-defined]
