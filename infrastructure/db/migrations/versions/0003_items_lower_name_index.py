"""Items: an index for the case-insensitive name order, built without blocking writes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: Only adds: a release at the revision before serves on this schema too.
compatibility = "expand"
downgrade_drops: tuple[str, ...] = ()

_INDEX = "ix_items_lower_name_id"


def upgrade() -> None:
    # CONCURRENTLY keeps the catalog writable while the index is built; it cannot run in a
    # transaction. An interrupted earlier attempt leaves an invalid index behind: dropped first.
    with op.get_context().autocommit_block():
        op.drop_index(_INDEX, table_name="items", postgresql_concurrently=True, if_exists=True)
        op.create_index(
            _INDEX,
            "items",
            [sa.text("lower(name)"), "id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(_INDEX, table_name="items", postgresql_concurrently=True, if_exists=True)
