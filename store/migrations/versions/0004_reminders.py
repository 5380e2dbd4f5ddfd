"""reminder claims: one row per (recipient, day), claimed before a reminder is sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:33:18.852817
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = '0004'
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reminder_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('patients', sa.Integer(), nullable=False),
    sa.Column('first_claimed_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('sent_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('slack_channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('slack_ts', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('claim_id'),
    sa.UniqueConstraint('recipient', 'day', name='uq_reminder_claims_recipient_day')
    )
    with op.batch_alter_table('reminder_claims', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_claims_day', ['day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reminder_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_claims_day')

    op.drop_table('reminder_claims')
