"""dashboard sessions kept server-side, so sign-out ends them (outside try of issue 24)

`dashboard_sessions`: one row per signed-in dashboard session (an OpenID Connect sign-in, an
auditor's link used), keyed by the SHA-256 of the random session id its signed cookie
carries. A session ends here (signed out, its member offboarded, its auditor grant revoked):
its cookie, or any copy of it, is refused from then on. Cookies signed before this revision
carry no session id and are refused: people sign in again once. Nothing existing changes.

Revision ID: 0020
Revises: 0019
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid_hash", _text(64), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("subject", _text(120), nullable=False),
        sa.Column("started_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", _text(120), nullable=True),
        sa.Column("ended_why", _text(40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sid_hash"),
    )
    op.create_index("ix_dashboard_sessions_subject", "dashboard_sessions", ["kind", "subject"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_subject", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
