"""Running timers (one per staff member): the statements `/rpm start`, `stop`, `cancel` and
the home tab run, prebuilt (Core)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select

from store.tables import patients, running_timers

T = running_timers.c

# The timer with its patient's row: the patient's columns (`id`, `clinic_id`, `initials`,
# `enrolled_on`, ...) plus `timer_id`, `timer_activity` and `timer_started_at`, so a stop
# reads what it logs in one statement.
_RUNNING = (select(patients, T.id.label("timer_id"), T.activity.label("timer_activity"),
                   T.started_at.label("timer_started_at"))
            .join(running_timers, T.patient_id == patients.c.id)
            .where(T.staff_id == bindparam("staff")))
_START = insert(running_timers)
_REMOVE = delete(running_timers).where(T.id == bindparam("timer_id"))


def running(conn: Any, staff_pk: int) -> Row[Any] | None:
    """The staff member's running timer with its patient (see _RUNNING), or None."""
    return conn.execute(_RUNNING, {"staff": staff_pk}).first()


def start(conn: Any, *, staff_pk: int, patient_pk: int, activity: str,
          started_at: datetime) -> None:
    """Start the staff member's timer; a second running one raises IntegrityError (one per
    staff member: StoreConflict out of db.write())."""
    conn.execute(_START, {"staff_id": staff_pk, "patient_id": patient_pk,
                          "activity": activity, "started_at": started_at})


def remove(conn: Any, timer_id: int) -> bool:
    """Remove this timer; False when it is gone already (a racing stop or cancel)."""
    return bool(conn.execute(_REMOVE, {"timer_id": timer_id}).rowcount == 1)
