"""Staff rows: the lookups every use case makes to check its actor."""

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Row

from store.tables import staff

# Run on nearly every request: built once, run with a bound id.
_BY_SLACK_ID = select(staff).where(staff.c.slack_user_id == bindparam("user"))
_BY_PK = select(staff).where(staff.c.id == bindparam("pk"))


def by_slack_id(conn: Connection, slack_user_id: str) -> Row[Any] | None:
    """The staff row (all columns, attribute access) for a Slack user id, or None."""
    return conn.execute(_BY_SLACK_ID, {"user": slack_user_id}).first()


def by_pk(conn: Connection, pk: int) -> Row[Any] | None:
    return conn.execute(_BY_PK, {"pk": pk}).first()
