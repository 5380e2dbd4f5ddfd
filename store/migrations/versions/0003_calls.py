"""calls and contacts (telephony)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:28:41.022373
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = '0003'
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('from_number', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
    sa.Column('to_number', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('matched_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('received_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_ref')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_patient_id'), ['patient_id'], unique=False)

    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('parent_call_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('account_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('from_number', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
    sa.Column('to_number', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('sequence_number', sa.Integer(), nullable=False),
    sa.Column('event_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('matched_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('bridged', sa.Boolean(), nullable=False),
    sa.Column('screened', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('confirmed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('after_close', sa.Boolean(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['time_entries.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_sid')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calls_parent_call_sid'), ['parent_call_sid'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calls_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('ix_calls_started', ['started_at'], unique=False)
        batch_op.create_index('ix_calls_state', ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_state')
        batch_op.drop_index('ix_calls_started')
        batch_op.drop_index(batch_op.f('ix_calls_staff_id'))
        batch_op.drop_index(batch_op.f('ix_calls_patient_id'))
        batch_op.drop_index(batch_op.f('ix_calls_parent_call_sid'))

    op.drop_table('calls')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_patient_id'))

    op.drop_table('contacts')
