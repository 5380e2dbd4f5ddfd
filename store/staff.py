"""Staff rows and their phones: the lookups every use case makes to check its actor, and the
writes of enrolling and changing staff.

Statements are built once at import and run with bound values; rows come back as plain
tuples with attribute access (`.id`, `.slack_user_id`, ...), never ORM objects.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from store.phones import STAFF_PHONES
from store.tables import staff, staff_phones

# Run on nearly every request: built once, run with a bound id.
_BY_SLACK_ID = select(staff).where(staff.c.slack_user_id == bindparam("user"))
_BY_PK = select(staff).where(staff.c.id == bindparam("pk"))
_BY_TWILIO_CLIENT = select(staff.c.id, staff.c.slack_user_id).where(
    staff.c.twilio_client == bindparam("client"))
_ADMIN_IDS = (select(staff.c.slack_user_id)
              .where(staff.c.is_admin.is_(True), staff.c.active.is_(True))
              .order_by(staff.c.name))

# A staff member as people read them: the row and how many phones they have, in one statement.
_counted = staff_phones.alias("counted_phones")  # not the by-phone join's table
_PHONE_COUNT = (select(func.count()).select_from(_counted)
                .where(_counted.c.staff_id == staff.c.id)
                .correlate(staff).scalar_subquery().label("phone_count"))
_VIEW = select(staff, _PHONE_COUNT)
_VIEW_BY_SLACK_ID = _VIEW.where(staff.c.slack_user_id == bindparam("user"))
_VIEW_BY_PHONE = (_VIEW.join(staff_phones, staff_phones.c.staff_id == staff.c.id)
                  .where(staff_phones.c.e164 == bindparam("e164")).limit(1))
_VIEWS = _VIEW.order_by(staff.c.name)
_ACTIVE_VIEWS = _VIEW.where(staff.c.active.is_(True)).order_by(staff.c.name)

_INSERT = insert(staff).returning(*staff.c)
_UPDATE = update(staff).where(staff.c.id == bindparam("pk")).returning(*staff.c)

def by_slack_id(conn: Connection, slack_user_id: str) -> Row[Any] | None:
    """The staff row (all columns, attribute access) for a Slack user id, or None."""
    return conn.execute(_BY_SLACK_ID, {"user": slack_user_id}).first()


def by_pk(conn: Connection, pk: int) -> Row[Any] | None:
    """The staff row (all columns) with this id, or None."""
    return conn.execute(_BY_PK, {"pk": pk}).first()


_BY_NAME = (select(staff.c.slack_user_id, staff.c.name, staff.c.is_admin, staff.c.active)
            .where(func.lower(staff.c.name) == func.lower(bindparam("name"))).limit(2))


_BY_EMAIL = select(staff).where(staff.c.email == bindparam("email"))


def by_email(conn: Connection, email: str) -> Row[Any] | None:
    """The staff row with this (lower-case) email, or None."""
    return conn.execute(_BY_EMAIL, {"email": email}).first()


def by_name(conn: Connection, name: str) -> list[Row[Any]]:
    """(slack_user_id, name, is_admin, active) of the members with this whole name in any
    case (at most two:
    enough to tell one from several)."""
    return list(conn.execute(_BY_NAME, {"name": name}).all())


def by_twilio_client(conn: Connection, identity: str) -> Row[Any] | None:
    """(id, slack_user_id) of the member with this Twilio Client identity, or None."""
    return conn.execute(_BY_TWILIO_CLIENT, {"client": identity}).first()


def admin_ids(conn: Connection) -> list[str]:
    """Slack ids of the active admins, by name."""
    return list(conn.execute(_ADMIN_IDS).scalars())


def view_by_slack_id(conn: Connection, slack_user_id: str) -> Row[Any] | None:
    """The staff row plus `phone_count`, or None."""
    return conn.execute(_VIEW_BY_SLACK_ID, {"user": slack_user_id}).first()


def view_by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The staff row plus `phone_count` of whoever owns this number, or None."""
    return conn.execute(_VIEW_BY_PHONE, {"e164": e164}).first()


def views(conn: Connection, *, include_inactive: bool) -> list[Row[Any]]:
    """Every (active) staff row plus `phone_count`, by name."""
    return list(conn.execute(_VIEWS if include_inactive else _ACTIVE_VIEWS))


def insert_staff(conn: Connection, values: Mapping[str, Any]) -> Row[Any]:
    """Insert a staff member; the stored row (with its id)."""
    return conn.execute(_INSERT, dict(values)).one()


def update_staff(conn: Connection, pk: int, values: Mapping[str, Any]) -> Row[Any]:
    """Set `values` (column: value) on staff `pk`; the row as it now is."""
    return conn.execute(_UPDATE, {**values, "pk": pk}).one()


def phones(conn: Connection, staff_pk: int) -> dict[str, str]:
    """The member's numbers: E.164 -> kind (phone | twilio_number)."""
    return STAFF_PHONES.of(conn, staff_pk)


def save_phones(conn: Connection, staff_pk: int, before: Mapping[str, str],
                after: Mapping[str, str]) -> None:
    """Make the member's numbers go from `before` to `after` (E.164 -> kind)."""
    STAFF_PHONES.save(conn, staff_pk, before, after)
