"""Test revision (contract): every item has a colour; a release that does not write one breaks.

Revision ID: t3_contract_colour
"""

from collections.abc import Sequence

from alembic import op

revision: str = "t3_contract_colour"
down_revision: str | None = "t2_expand_colour_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: Items created by the release before it (no colour) would break the check.
compatibility = "contract"
downgrade_drops: tuple[str, ...] = ()

BATCH = 1000


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # Backfill in short transactions, each holding its row locks briefly.
        bind = op.get_bind()
        while True:
            done = bind.exec_driver_sql(
                "UPDATE items SET colour = 'unknown' WHERE id IN"
                f" (SELECT id FROM items WHERE colour IS NULL LIMIT {BATCH})"
            ).rowcount
            if not done:
                break
    # Checked for new rows at once; the existing ones are scanned by VALIDATE, which lets
    # writes through.
    op.execute(
        "ALTER TABLE items DROP CONSTRAINT IF EXISTS ck_items_colour_present,"
        " ADD CONSTRAINT ck_items_colour_present CHECK (colour IS NOT NULL) NOT VALID"
    )
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE items VALIDATE CONSTRAINT ck_items_colour_present")


def downgrade() -> None:
    op.execute("ALTER TABLE items DROP CONSTRAINT IF EXISTS ck_items_colour_present")
