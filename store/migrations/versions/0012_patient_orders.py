"""the order behind each patient's monitoring: ordering provider, order date, last established-patient visit (issue 16, the audit packet)

Three nullable columns on `patients`; existing patients have none on file (the packet says
"not on file" until `patient update --ordered-by/--order-date/--last-visit` sets them).
The ordering provider is a staff id without a database foreign key: adding or dropping one
on SQLite recreates `patients`, which the foreign keys of every other table refuse while
they hold rows; the service checks the staff member exists (staff rows are never deleted).
Plain ALTER TABLE ADD/DROP COLUMN on both databases (SQLite 3.35+ drops columns).

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("ordering_provider_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("order_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("last_visit_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("last_visit_on")
        batch_op.drop_column("order_on")
        batch_op.drop_column("ordering_provider_id")
