"""The patient a Slack conversation is about (`/rpm use`): one row per channel, or per user
for their direct messages."""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, true, update
from sqlalchemy.engine import Connection, Row

from store.patients import DETAIL_COLUMNS, DETAIL_FROM
from store.tables import patients, slack_contexts, staff

# The context rows of up to two scopes (a channel's, then its user's) with their patient's
# detail (store/patients.py), in one statement.
_CURRENT = (select(slack_contexts.c.scope.label("context_scope"),
                   slack_contexts.c.scope_id.label("context_scope_id"), *DETAIL_COLUMNS)
            .select_from(slack_contexts.join(DETAIL_FROM,
                                             patients.c.id == slack_contexts.c.patient_id))
            .where(or_(and_(slack_contexts.c.scope == bindparam("scope1"),
                            slack_contexts.c.scope_id == bindparam("scope_id1")),
                       and_(slack_contexts.c.scope == bindparam("scope2"),
                            slack_contexts.c.scope_id == bindparam("scope_id2")))))
# The same, only when `user` is active staff: a use case's actor check rides along.
_CURRENT_FOR_STAFF = _CURRENT.where(exists().where(
    staff.c.slack_user_id == bindparam("user"), staff.c.active == true()))
_INSERT = insert(slack_contexts)
_UPDATE = (update(slack_contexts)
           .where(slack_contexts.c.scope == bindparam("in_scope"),
                  slack_contexts.c.scope_id == bindparam("in_scope_id")))
_DELETE = delete(slack_contexts).where(slack_contexts.c.scope == bindparam("in_scope"),
                                       slack_contexts.c.scope_id == bindparam("in_scope_id"))


def patients_of(conn: Connection, scopes: list[tuple[str, str]], *,
                staff_user: str | None = None) -> list[Row[Any]]:
    """The patient detail rows (store/patients.py) set for each of `scopes` ((scope,
    scope_id), one or two), in the order of `scopes`; a scope with none is left out. With
    `staff_user` (a Slack id), none at all unless that member is active staff."""
    first, second = scopes[0], scopes[-1]
    params = {"scope1": first[0], "scope_id1": first[1], "scope2": second[0],
              "scope_id2": second[1]}
    if staff_user is None:
        rows = conn.execute(_CURRENT, params).all()
    else:
        rows = conn.execute(_CURRENT_FOR_STAFF, {**params, "user": staff_user}).all()
    order = {scope: i for i, scope in enumerate(scopes)}
    return sorted(rows, key=lambda r: order[(r.context_scope, r.context_scope_id)])


def set_patient(conn: Connection, scope: str, scope_id: str, *, patient_pk: int, set_by: str,
                set_at: datetime, replacing: bool) -> None:
    """Point the scope at a patient (`replacing`: the scope has a row already)."""
    values = {"patient_id": patient_pk, "set_by": set_by, "set_at": set_at}
    if replacing:
        conn.execute(_UPDATE, {"in_scope": scope, "in_scope_id": scope_id, **values})
    else:
        conn.execute(_INSERT, {"scope": scope, "scope_id": scope_id, **values})


def clear(conn: Connection, scope: str, scope_id: str) -> None:
    conn.execute(_DELETE, {"in_scope": scope, "in_scope_id": scope_id})
