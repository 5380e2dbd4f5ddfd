"""enrolment episodes: a patient who ended and enrolled again keeps both stretches (issue 26 #10)

`enrolment_episodes` holds each stretch of a patient's enrolment (first and last day, both
included; the last may be open, the first may have no start). Every existing patient gets
one episode from their `enrolled_on`/`ended_on` (created when the patient was, by
"migration 0013"), so nothing any month counts changes. `patients.enrolled_on`/`ended_on`
stay: they repeat the latest episode's dates.

Revision ID: 0013
Revises: 0012
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrolment_episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrolment_episodes_patient_id", "enrolment_episodes", ["patient_id"])
    op.execute(
        "INSERT INTO enrolment_episodes (patient_id, started_on, ended_on, created_at, "
        "created_by) SELECT id, enrolled_on, ended_on, created_at, 'migration 0013' "
        "FROM patients ORDER BY id")


def downgrade() -> None:
    op.drop_index("ix_enrolment_episodes_patient_id", table_name="enrolment_episodes")
    op.drop_table("enrolment_episodes")
