"""dashboard sign-in per person: staff email, auditor grants, the dashboard's signing key (issue 24 #3)

- `staff.email` (lower case, unique where set): how an OpenID Connect sign-in by email
  (Microsoft Entra, Google Workspace) finds the staff member.
- `auditor_grants`: a read-only dashboard scope for an outside auditor (months, patients,
  expiry), with the SHA-256 of its one-time sign-in link's secret, when the link was used
  (single use: set once, by a conditional UPDATE) and when it was revoked.
- `dashboard_keys`: the random key that signs auditor links and dashboard session cookies,
  made on first use; shared by every `serve` process and the CLI through the database.

Revision ID: 0018
Revises: 0017
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both databases (as 0014); the uniqueness is an index, which SQLite
    # can add to an existing table
    op.add_column("staff", sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254),
                                     nullable=True))
    op.create_index("ix_staff_email", "staff", ["email"], unique=True)
    op.create_table(
        "auditor_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("first_month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("last_month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("patients", sa.JSON(), nullable=True),
        sa.Column("expires_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("link_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("link_used_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("revoked_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_hash"),
    )
    op.create_table(
        "dashboard_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("purpose"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_keys")
    op.drop_table("auditor_grants")
    op.drop_index("ix_staff_email", table_name="staff")
    op.drop_column("staff", "email")
