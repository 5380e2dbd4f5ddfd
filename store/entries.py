"""Time entries: the statements every log, void, undo and listing runs, prebuilt (Core).

Rows come back as SQLAlchemy Rows (attribute access by column name). Entries read "with
names" also carry `patient_clinic_id`, `patient_initials`, `staff_slack_id` and `staff_name`,
what a screen shows of an entry, and `voided_by_name` (the voider's name, when the void's
"by" is a staff member's id), in the same statement.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, literal_column, select, update

from store.month_totals import LONGEST_ENTRY
from store.tables import patients, staff, time_entries

E = time_entries.c
COLUMNS = tuple(column.name for column in time_entries.c)  # an entry's own columns
MAX_NOTE_CHARS: int = E.note.type.length
MAX_REASON_CHARS: int = E.void_reason.type.length

_voider = staff.alias("voider")
_NAMES = (patients.c.clinic_id.label("patient_clinic_id"),
          patients.c.initials.label("patient_initials"),
          staff.c.slack_user_id.label("staff_slack_id"),
          staff.c.name.label("staff_name"),
          _voider.c.name.label("voided_by_name"))
_WITH_NAMES = (time_entries.join(patients, patients.c.id == E.patient_id)
               .join(staff, staff.c.id == E.staff_id)
               .outerjoin(_voider, _voider.c.slack_user_id == E.voided_by))

# -- writing -------------------------------------------------------------------------------

_INSERT = insert(time_entries).returning(*time_entries.c)

# The author's latest standing entry identical to the one inserted (same patient, duration
# and activity), saved since :repeat_since and started within one clinic day: chat's
# double-submission warning, returned by the insert itself rather than read before it. The
# subquery cannot see the new row on PostgreSQL (the statement's snapshot is taken before
# the insert) and skips it by id on SQLite (which can), so both answer as a read before it.
# The new row's columns are named as SQL text: SQLAlchemy renders RETURNING columns
# unqualified on SQLite and would not correlate them into the subquery.
_prior = time_entries.alias("prior")
_P = _prior.c


def _new(column: str) -> Any:
    return literal_column(f"{time_entries.name}.{column}")


_REPEAT_OF = (
    select(_P.id)
    .where(_P.id != _new("id"), _P.staff_id == _new("staff_id"),
           _P.patient_id == _new("patient_id"),
           _P.duration_seconds == _new("duration_seconds"),
           _P.activity == _new("activity"), _P.voided_at.is_(None),
           _P.created_at >= bindparam("repeat_since"),
           _P.started_at >= bindparam("day_start"), _P.started_at < bindparam("day_end"))
    .order_by(_P.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("repeat_of")
)
_INSERT_NOTING_REPEAT = insert(time_entries).returning(*time_entries.c, _REPEAT_OF)


def insert_entry(conn: Any, values: dict[str, Any], *,
                 repeat_since: datetime | None = None,
                 day: tuple[datetime, datetime] | None = None) -> Row[Any]:
    """Insert one entry; the stored row (id included). A second entry with the same
    `external_ref` raises IntegrityError (StoreConflict out of db.write()).

    With `repeat_since` and `day` (UTC bounds of the entry's clinic day) the row also
    carries `repeat_of`: the id of the author's latest standing identical entry saved since
    then that started that day (None: none), in the same statement (`_REPEAT_OF`)."""
    if repeat_since is None or day is None:
        return conn.execute(_INSERT, values).one()
    return conn.execute(_INSERT_NOTING_REPEAT, {
        **values, "repeat_since": repeat_since, "day_start": day[0],
        "day_end": day[1]}).one()


# Conditional: of concurrent voids only the first matches a standing row. On PostgreSQL the
# others wait for its row lock, then re-check `voided_at IS NULL` against the committed row
# and match nothing; on SQLite writers are serialized (BEGIN IMMEDIATE) to the same effect.
_VOID_IF_STANDING = (
    update(time_entries)
    .where(E.id == bindparam("entry_id"), E.voided_at.is_(None))
    .values(voided_at=bindparam("at"), voided_by=bindparam("by"),
            void_reason=bindparam("reason"),
            void_amendment_reason=bindparam("why_amended"))
    .returning(*time_entries.c)
)


def void_if_standing(conn: Any, entry_id: int, *, at: datetime, by: str,
                     reason: str, amendment_reason: str | None = None) -> Row[Any] | None:
    """Void the entry unless it already is: the voided row, or None when another void got
    there first (or there is no such entry)."""
    return conn.execute(
        _VOID_IF_STANDING, {"entry_id": entry_id, "at": at, "by": by, "reason": reason,
                            "why_amended": amendment_reason}).first()


# -- reading one entry ---------------------------------------------------------------------

_BY_ID_WITH_NAMES = select(time_entries, *_NAMES).select_from(_WITH_NAMES).where(
    E.id == bindparam("entry_id"))
_BY_EXTERNAL_REF = select(time_entries).where(E.external_ref == bindparam("ref"))
_BY_EXTERNAL_REF_WITH_NAMES = select(time_entries, *_NAMES).select_from(_WITH_NAMES).where(
    E.external_ref == bindparam("ref"))
_ID_BY_EXTERNAL_REF = select(E.id).where(E.external_ref == bindparam("ref"))


def with_names(conn: Any, entry_id: int) -> Row[Any] | None:
    """The entry with its patient's clinic id and initials and its author's id and name."""
    return conn.execute(_BY_ID_WITH_NAMES, {"entry_id": entry_id}).first()


def by_external_ref(conn: Any, ref: str) -> Row[Any] | None:
    """The entry recorded under a machine reference (a call SID, a timer), or None."""
    return conn.execute(_BY_EXTERNAL_REF, {"ref": ref}).first()


def with_names_by_external_ref(conn: Any, ref: str) -> Row[Any] | None:
    """The entry recorded under a reference, with names (a replayed chat log's), or None."""
    return conn.execute(_BY_EXTERNAL_REF_WITH_NAMES, {"ref": ref}).first()


def id_by_external_ref(conn: Any, ref: str) -> int | None:
    """The id of the entry recorded under a machine reference (a call SID, a timer)."""
    found = conn.execute(_ID_BY_EXTERNAL_REF, {"ref": ref}).scalar()
    return int(found) if found is not None else None


# -- the checks a log makes ----------------------------------------------------------------

# Run on every clock-timed log and recorded call: the overlapping entry with the names its
# warning shows (the author is the logger; the patient may be another).
_FIRST_CLOCK_TIMED_OVERLAP = (
    select(time_entries, *_NAMES).select_from(_WITH_NAMES)
    .where(E.staff_id == bindparam("staff"), E.voided_at.is_(None), E.clock_timed.is_(True),
           E.started_at < bindparam("end"), E.ended_at > bindparam("start"))
    .order_by(E.started_at)
    .limit(1)
)


def first_clock_timed_overlap(conn: Any, *, staff_pk: int, start: datetime,
                              end: datetime) -> Row[Any] | None:
    """The staff member's earliest standing clock-timed entry sharing any of [start, end),
    with names: estimated entries (which end "now" by convention) are never an overlap."""
    return conn.execute(_FIRST_CLOCK_TIMED_OVERLAP,
                        {"staff": staff_pk, "start": start, "end": end}).first()


_LATEST_END_ON_DAY = select(func.max(E.ended_at)).where(
    E.staff_id == bindparam("staff"), E.voided_at.is_(None),
    E.started_at >= bindparam("day_start"), E.started_at < bindparam("day_end"))


def latest_end_on_day(conn: Any, *, staff_pk: int,
                      day: tuple[datetime, datetime]) -> datetime | None:
    """When the staff member's last standing entry that started within `day` ends: where a
    late entry for that day is placed so two never read as overlapping work."""
    latest: datetime | None = conn.execute(
        _LATEST_END_ON_DAY, {"staff": staff_pk, "day_start": day[0],
                             "day_end": day[1]}).scalar()
    return latest


# -- undo ----------------------------------------------------------------------------------

_LATEST_AUTHORED = (
    select(time_entries, *_NAMES).select_from(_WITH_NAMES)
    .where(E.staff_id == bindparam("staff"), E.created_by == bindparam("author"))
    .order_by(E.created_at.desc(), E.id.desc())
    .limit(1)
)


def latest_authored(conn: Any, *, staff_pk: int, author: str) -> Row[Any] | None:
    """The most recent entry the staff member saved themselves (not one Twilio recorded for
    them, not one an operator typed in their name), voided or not, with names: a voided one
    means it was already undone (or voided), so undo must not reach past it."""
    return conn.execute(_LATEST_AUTHORED, {"staff": staff_pk, "author": author}).first()


# -- listings ------------------------------------------------------------------------------

_TOUCHING = (select(time_entries, *_NAMES).select_from(_WITH_NAMES)
             .where(E.started_at >= bindparam("reach"), E.started_at < bindparam("end"),
                    E.ended_at > bindparam("start")))
_TOUCHING_ALL = _TOUCHING.order_by(E.started_at, E.id)
_TOUCHING_ONE = _TOUCHING.where(E.patient_id == bindparam("patient_pk")).order_by(
    E.started_at, E.id)


def touching_with_names(conn: Any, *, start: datetime, end: datetime,
                        patient_pk: int | None = None) -> list[Row[Any]]:
    """Every entry (voided ones too) with time in [start, end), oldest first, with names:
    those that started in it and those across its first midnight (no entry is longer than
    a day)."""
    params: dict[str, Any] = {"start": start, "end": end, "reach": start - LONGEST_ENTRY}
    if patient_pk is None:
        return list(conn.execute(_TOUCHING_ALL, params))
    return list(conn.execute(_TOUCHING_ONE, params | {"patient_pk": patient_pk}))
