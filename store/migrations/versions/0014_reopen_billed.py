"""a reopen says whether the close it undoes was billed (issue 26 #5)

`month_close_events.billed`: on a reopen, whether the claims of the close it reopens had
been sent. After a reopen marked billed, later closes of the month are compared with that
close (what was billed), so a corrected claim stays named; after one marked not billed, the
latest close is the base. Reopens made before this revision are NULL: not known, read as
not billed, which is what every screen assumed until now.

Revision ID: 0014
Revises: 0013
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both databases (as 0012): a batch copy of the table on SQLite is
    # refused by the foreign keys of month_close_lines while it holds rows
    op.add_column("month_close_events", sa.Column("billed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("month_close_events", "billed")
