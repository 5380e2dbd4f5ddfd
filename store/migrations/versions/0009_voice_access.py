"""voice access for staff: a salted slow hash of each staff member's voice PIN, wrong-PIN attempts and locks (issue 15)

`staff` gains the PIN hash (never the digits), the end of a wrong-PIN lock and when the
wrong-PIN count last restarted; `voice_pin_attempts` holds one row per wrong PIN (staff,
call, when), which the per-member lock and the clinic-wide hourly limit count.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voice_pin_hash",
                                      sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=True))
        batch_op.add_column(sa.Column("voice_locked_until",
                                      store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("voice_cleared_at",
                                      store.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "voice_pin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("call_sid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_voice_pin_attempts_at", "voice_pin_attempts", ["at"])
    op.create_index("ix_voice_pin_attempts_staff_at", "voice_pin_attempts", ["staff_id", "at"])
    op.create_index("ix_voice_pin_attempts_call", "voice_pin_attempts", ["call_sid"])


def downgrade() -> None:
    op.drop_index("ix_voice_pin_attempts_call", table_name="voice_pin_attempts")
    op.drop_index("ix_voice_pin_attempts_staff_at", table_name="voice_pin_attempts")
    op.drop_index("ix_voice_pin_attempts_at", table_name="voice_pin_attempts")
    op.drop_table("voice_pin_attempts")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), never SQLite's copy-and-rename: that
    # drops `staff`, which every table's foreign keys to it forbid while they have rows.
    with op.batch_alter_table("staff", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("voice_cleared_at")
        batch_op.drop_column("voice_locked_until")
        batch_op.drop_column("voice_pin_hash")
