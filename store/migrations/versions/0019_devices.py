"""devices and their readings: the device half of an RPM claim (issue 28)

`devices`: a serial lent to a patient from a day (to an end day). `device_readings`: each
reading a vendor sent (by the signed webhook, FHIR, or a CSV import), stored once by its
`dedupe_key` (the vendor's reading id, else serial or patient + instant + kind); a reading of
an unknown serial is kept with no patient (unmatched). `month_close_lines.device_codes`: the
device codes a close recorded (NULL on lines written before). Nothing existing changes.

Revision ID: 0019
Revises: 0018
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", _text(64), nullable=False),
        sa.Column("serial_key", _text(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", _text(120), nullable=False),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_devices_serial_key", "devices", ["serial_key"])
    op.create_index("ix_devices_patient_id", "devices", ["patient_id"])
    op.create_table(
        "device_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", _text(300), nullable=False),
        sa.Column("reading_id", _text(128), nullable=True),
        sa.Column("serial", _text(64), nullable=True),
        sa.Column("serial_key", _text(64), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("measured_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("source", _text(16), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attached_by", _text(120), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index("ix_device_readings_patient_measured", "device_readings",
                    ["patient_id", "measured_at"])
    op.create_index("ix_device_readings_serial_key", "device_readings", ["serial_key"])
    # a close records the month's device codes beside its time codes; NULL on lines of
    # closes made before (plain ALTER TABLE on both databases, as 0014)
    op.add_column("month_close_lines", sa.Column("device_codes", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("month_close_lines", "device_codes")
    op.drop_index("ix_device_readings_serial_key", table_name="device_readings")
    op.drop_index("ix_device_readings_patient_measured", table_name="device_readings")
    op.drop_table("device_readings")
    op.drop_index("ix_devices_patient_id", table_name="devices")
    op.drop_index("ix_devices_serial_key", table_name="devices")
    op.drop_table("devices")
