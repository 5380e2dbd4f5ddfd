"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 04:05:19.760657
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slack_user_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('npi', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('twilio_client', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slack_user_id'),
    sa.UniqueConstraint('twilio_client')
    )
    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('clinic_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('initials', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('consent_on', sa.Date(), nullable=True),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('assigned_staff_id', sa.Integer(), nullable=True),
    sa.Column('enrolled_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_staff_id'], ['staff.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('clinic_key')
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_assigned_staff_id'), ['assigned_staff_id'], unique=False)

    op.create_table('staff_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('e164', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('e164')
    )
    with op.batch_alter_table('staff_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_phones_staff_id'), ['staff_id'], unique=False)

    op.create_table('patient_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('e164', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('e164')
    )
    with op.batch_alter_table('patient_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_phones_patient_id'), ['patient_id'], unique=False)

    op.create_table('time_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('started_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=False),
    sa.Column('activity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.Column('staff_role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('overlaps_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('voided_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('void_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_ref')
    )
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.create_index('ix_time_entries_patient_started', ['patient_id', 'started_at'], unique=False)
        batch_op.create_index('ix_time_entries_staff_started', ['staff_id', 'started_at'], unique=False)
        batch_op.create_index('ix_time_entries_started', ['started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('time_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_time_entries_started')
        batch_op.drop_index('ix_time_entries_staff_started')
        batch_op.drop_index('ix_time_entries_patient_started')

    op.drop_table('time_entries')
    with op.batch_alter_table('patient_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_phones_patient_id'))

    op.drop_table('patient_phones')
    with op.batch_alter_table('staff_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_phones_staff_id'))

    op.drop_table('staff_phones')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_assigned_staff_id'))

    op.drop_table('patients')
    op.drop_table('staff')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_entity')

    op.drop_table('audit_events')
