"""Test revision (expand): an index on the new column, built without blocking writes.

Revision ID: t2_expand_colour_index
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t2_expand_colour_index"
down_revision: str | None = "t1_expand_colour"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
compatibility = "expand"
downgrade_drops: tuple[str, ...] = ()


def upgrade() -> None:
    # CONCURRENTLY cannot run in a transaction; a failed earlier attempt leaves an invalid index
    # behind, which is dropped first.
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_items_colour", table_name="items", postgresql_concurrently=True, if_exists=True
        )
        op.create_index("ix_items_colour", "items", ["colour"], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_items_colour", table_name="items", postgresql_concurrently=True, if_exists=True
        )
