"""a staff member's inactive-from instant (issue 24, "Offboarding")

`staff.inactive_from`: when the member became inactive (`staff offboard`, or `staff update
--inactive`). From that instant no call is routed to their phones and no call is credited to
them; calls from before it stay theirs. Members already inactive before this revision get
NULL: not known, read as inactive since ever (no call is routed to them or credited to them
from now on either, as `active` alone said); `staff update --inactive` again records the
instant.

Revision ID: 0017
Revises: 0016
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE on both databases (as 0014, 0016): a batch copy of `staff` on SQLite
    # is refused by every table's foreign keys to it while they hold rows
    op.add_column("staff", sa.Column("inactive_from", store.types.UTCDateTime(timezone=True),
                                     nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("inactive_from")
