"""notices: the call DMs' outbox (issue 25)

A status callback that makes a call one a nurse acts on (to confirm, or counted) queues its
DM here in the same transaction; the scheduler leader delivers it. Nothing existing changes.

Revision ID: 0021
Revises: 0020
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _utc(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", _text(36), nullable=False),
        sa.Column("kind", _text(24), nullable=False),
        sa.Column("recipient", _text(32), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("state", _text(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("created_at", nullable=False),
        _utc("first_claimed_at"),
        _utc("claimed_at"),
        sa.Column("claimed_by", _text(120), nullable=True),
        _utc("sent_at"),
        sa.Column("slack_channel", _text(32), nullable=True),
        sa.Column("slack_ts", _text(32), nullable=True),
        sa.Column("last_error", _text(300), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_id"),
    )
    op.create_index("ix_notices_state", "notices", ["state"])


def downgrade() -> None:
    op.drop_index("ix_notices_state", table_name="notices")
    op.drop_table("notices")
