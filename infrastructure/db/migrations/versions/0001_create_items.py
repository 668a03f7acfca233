"""Create the items table.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The first schema: no release before it can serve it.
compatibility = "contract"
downgrade_drops = ("items",)
#: squawk rules this revision is exempt from, and why.
lint_ignores = {
    "prefer-text-field": "the lengths are the item's own limits, mirrored by the table model; "
    "widening a varchar later changes the catalog only, it rewrites nothing",
    "prefer-bigint-over-int": "the domain bounds quantity and version to the int range "
    "(domain/rules.py), and refuses past it",
}


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sqlmodel.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.AutoString(length=2000), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_items_quantity_non_negative")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_items_price_non_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_items_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("sku", name=op.f("uq_items_sku")),
    )
    op.create_index("ix_items_created_at_id", "items", ["created_at", "id"])
    op.create_index("ix_items_name_id", "items", ["name", "id"])
    op.create_index("ix_items_price_id", "items", ["price", "id"])
    op.create_index("ix_items_sku_id", "items", ["sku", "id"])

    # `q` (ILIKE '%q%') needs a trigram index; pg_trgm is missing from the embedded server, so
    # the server decides at run time (one statement, so `--sql` prints it as it runs).
    op.execute(
        "DO $$ BEGIN"
        " IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN"
        " CREATE EXTENSION IF NOT EXISTS pg_trgm;"
        " CREATE INDEX ix_items_search_trgm ON items"
        " USING gin (name gin_trgm_ops, sku gin_trgm_ops);"
        " END IF;"
        " END $$"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_items_search_trgm")
    op.drop_index("ix_items_sku_id", table_name="items")
    op.drop_index("ix_items_price_id", table_name="items")
    op.drop_index("ix_items_name_id", table_name="items")
    op.drop_index("ix_items_created_at_id", table_name="items")
    op.drop_table("items")
