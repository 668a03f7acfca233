"""Test revision (expand): a nullable column on items and a new table referring to it.

Kept for the tests only: a "next release" built by tests/migrations/release.py carries it after
the project's head.

Revision ID: t1_expand_colour
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t1_expand_colour"
down_revision: str | None = "PROJECT_HEAD"  # replaced with the project's head by the builder
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The release before it still serves this schema: it neither reads nor writes what is new.
compatibility = "expand"
downgrade_drops = ("item_notes", "items.colour")


def upgrade() -> None:
    # Nullable, no default: a catalog change only, done as soon as the lock is granted.
    op.add_column("items", sa.Column("colour", sa.Text(), nullable=True))
    op.create_table(
        "item_notes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("item_notes")
    op.drop_column("items", "colour")
