"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}
#: "expand" (the release before this one still serves the schema it leaves) or "contract" (it
#: does not); the runner refuses a revision that has not decided. See docs/migrations.md.
compatibility = ""
#: Tables and columns ("table.column") whose data the downgrade drops.
downgrade_drops: tuple[str, ...] = ()
#: squawk rules this revision is exempt from, each with its reason.
lint_ignores: dict[str, str] = {}

# sqlmodel is imported because autogenerate renders its column types (sqlmodel.AutoString).
_ = sqlmodel


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
