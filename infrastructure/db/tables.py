"""The SQLModel table model: the single source of the schema (migrations are checked against it)."""

from datetime import datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
#: The current transaction's id (xid8) as a bigint.
CURRENT_XID: Final = "(pg_current_xact_id())::text::bigint"


class ItemRow(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_items_created_at_id", "created_at", "id"),
        Index("ix_items_name_id", "name", "id"),
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


class ItemEventRow(SQLModel, table=True):
    """The change feed: one row per change to an item, written by the statement that changes it.
    `xid` is the writing transaction's xid8, held as a bigint (drivers know no xid8 type)."""

    __tablename__ = "item_events"
    __table_args__ = (PrimaryKeyConstraint("xid", "id", name="pk_item_events"),)

    xid: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text(CURRENT_XID)))
    id: int = Field(sa_column=Column(BigInteger, Identity(always=True), nullable=False))
    type: str = Field(sa_column=Column(Text, nullable=False))
    item_id: UUID = Field(sa_column=Column(Uuid(), nullable=False))
    sku: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    changes: dict[str, object] = Field(sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
    )


class ItemEventHorizonRow(SQLModel, table=True):
    """The position of the last event purged (one row): a cursor before it has missed events."""

    __tablename__ = "item_events_horizon"
    __table_args__ = (CheckConstraint("singleton", name="singleton"),)

    singleton: bool = Field(
        sa_column=Column(Boolean, primary_key=True, server_default=text("true"))
    )
    xid: int = Field(sa_column=Column(BigInteger, nullable=False))
    id: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebhookSubscriptionRow(SQLModel, table=True):
    __tablename__ = "webhook_subscriptions"

    id: UUID = Field(primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    #: Empty: every event type.
    event_types: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    secret: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookDeliveryRow(SQLModel, table=True):
    """One event to send to one subscription; a claimed one is leased (`next_attempt_at`), so a
    dispatcher that dies mid-delivery leaves it to another."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The claim: pending deliveries due, oldest event first.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # Order per item: an item's earlier pending delivery to the same subscription.
        Index(
            "ix_webhook_deliveries_item",
            "subscription_id",
            "item_id",
            "event_xid",
            "event_id",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int = Field(sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    subscription_id: UUID = Field(sa_column=Column(Uuid(), nullable=False))
    event_xid: int = Field(sa_column=Column(BigInteger, nullable=False))
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    item_id: UUID = Field(sa_column=Column(Uuid(), nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False, server_default=text("'pending'")))
    attempts: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    next_attempt_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
    )
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()"))
    )
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class WebhookFanoutRow(SQLModel, table=True):
    """How far into the feed deliveries have been made (one row)."""

    __tablename__ = "webhook_fanout"
    __table_args__ = (CheckConstraint("singleton", name="singleton"),)

    singleton: bool = Field(
        sa_column=Column(Boolean, primary_key=True, server_default=text("true"))
    )
    xid: int = Field(sa_column=Column(BigInteger, nullable=False))
    id: int = Field(sa_column=Column(BigInteger, nullable=False))


#: The Core table behind ItemRow (SQLModel types `__table__` loosely), for compiled statements.
ITEMS: Final[Table] = ItemRow.__table__  # type: ignore[attr-defined]
EVENTS: Final[Table] = ItemEventRow.__table__  # type: ignore[attr-defined]
