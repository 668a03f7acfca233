"""Items: an index for the case-insensitive name order, built without blocking writes.

An expand revision: it only adds an index, so a release at 0002 keeps serving on this schema.

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

_INDEX = "ix_items_lower_name_id"


def upgrade() -> None:
    # CONCURRENTLY: the catalog stays writable while the index is built; it cannot run inside
    # a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        # An interrupted concurrent build leaves an invalid index behind: build it again.
        invalid = op.get_bind().scalar(
            sa.text(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"name": _INDEX},
        )
        if invalid:
            op.drop_index(_INDEX, table_name="items", postgresql_concurrently=True)
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
