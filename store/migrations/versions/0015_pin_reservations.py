"""a wrong-PIN row can be a reservation still being compared (issue 27 #1)

`voice_pin_attempts.pending`: the PIN check reserves its attempt under a lock (counted as
wrong by every limit), compares the PIN outside the lock, then deletes the row (right) or
keeps it as wrong. Rows written before this revision are wrong PINs: false.

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both databases (as 0014)
    op.add_column("voice_pin_attempts", sa.Column("pending", sa.Boolean(), nullable=False,
                                                  server_default=sa.false()))


def downgrade() -> None:
    # a reservation never compared is dropped with the column: it was no wrong PIN
    op.execute("DELETE FROM voice_pin_attempts WHERE pending")
    op.drop_column("voice_pin_attempts", "pending")
