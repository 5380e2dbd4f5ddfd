"""Call legs and inbound contacts: the statements of the telephony use cases.

Every statement is built once and run with bound values. A leg comes back as a Row with
every column of `calls` plus `has_children` (whether another leg names it as its parent),
so the counting verdict never stops midway to ask, and `entry_voided` (whether the entry the
call made has since been voided, so a list never shows a voided call as counted). Parties
(who a number is) for all the numbers of a call and its parent come back from one
statement, with what a patient's view needs (phone counts, provider and assigned staff)
already joined.
"""

from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection, Row

from store.tables import (
    calls,
    contacts,
    patient_phones,
    patients,
    staff,
    staff_phones,
    time_entries,
)

# -- legs -------------------------------------------------------------------------------

_children = calls.alias("children")
_HAS_CHILDREN = exists().where(_children.c.parent_call_sid == calls.c.call_sid) \
    .label("has_children")
_VOIDED = exists().where(time_entries.c.id == calls.c.entry_id,
                         time_entries.c.voided_at.is_not(None))
_ENTRY_VOIDED = _VOIDED.label("entry_voided")
# the state a person reads (service.calls.CallView.shown_state): a counted call whose entry
# was voided since reads "voided"; filtered here so a list's limit counts only what it shows
_SHOWN_STATE = case((and_(calls.c.state == "counted", _VOIDED), "voided"), else_=calls.c.state)
_LEG = select(calls, _HAS_CHILDREN, _ENTRY_VOIDED)
_BY_SID = _LEG.where(calls.c.call_sid == bindparam("sid"))
_BY_SID_LOCKED = _BY_SID.with_for_update(of=calls)
_BY_ID = _LEG.where(calls.c.id == bindparam("pk"))
_BY_ID_LOCKED = _BY_ID.with_for_update(of=calls)
_BY_SIDS = _LEG.where(calls.c.call_sid.in_(bindparam("sids", expanding=True)))
_CHILDREN = _LEG.where(calls.c.parent_call_sid == bindparam("sid")).order_by(calls.c.id)
_INSERT = insert(calls).returning(calls.c.id)
_UPDATE = update(calls).where(calls.c.id == bindparam("pk"))
_NEWEST_FIRST = (calls.c.started_at.desc(), calls.c.id.desc())
_ALL = _LEG.order_by(*_NEWEST_FIRST).limit(bindparam("limit"))
_IN_STATES = (_LEG.where(_SHOWN_STATE.in_(bindparam("states", expanding=True)))
              .order_by(*_NEWEST_FIRST).limit(bindparam("limit")))

# A patient's calls of a month with both legs of each bridge: the legs matched to the patient
# that started in the month, their parents and their children (a <Dial> bridge matches the
# patient on one leg; the auditor asks for both).
_MATCHED = (select(calls.c.call_sid, calls.c.parent_call_sid)
            .where(calls.c.patient_id == bindparam("patient_pk"),
                   calls.c.started_at >= bindparam("start"), calls.c.started_at < bindparam("end"))
            .cte("matched"))
_PATIENT_MONTH_LEGS = (
    _LEG.where(calls.c.call_sid.in_(select(_MATCHED.c.call_sid))
               | calls.c.call_sid.in_(select(_MATCHED.c.parent_call_sid))
               | calls.c.parent_call_sid.in_(select(_MATCHED.c.call_sid)))
    .order_by(calls.c.started_at, calls.c.id))

COLUMNS = tuple(c.key for c in calls.c)
# written by every update: one statement shape, compiled once
_WRITABLE = tuple(k for k in COLUMNS if k not in ("id", "call_sid", "created_at"))

_LAST_COUNTED = (_LEG.where(calls.c.staff_id == bindparam("staff_pk"),
                            calls.c.state == "counted",
                            calls.c.started_at >= bindparam("since"))
                 .order_by(*_NEWEST_FIRST).limit(1))

def leg_by_sid(conn: Connection, call_sid: str, *, lock: bool = False) -> Row[Any] | None:
    """The leg with this CallSid (locked FOR UPDATE on PostgreSQL when `lock`), or None."""
    return conn.execute(_BY_SID_LOCKED if lock else _BY_SID, {"sid": call_sid}).first()


def legs_by_sids(conn: Connection, call_sids: Sequence[str]) -> list[Row[Any]]:
    """The legs with these CallSids (unlocked), in one statement."""
    return list(conn.execute(_BY_SIDS, {"sids": list(call_sids)})) if call_sids else []


def leg_by_id(conn: Connection, pk: int, *, lock: bool = False) -> Row[Any] | None:
    return conn.execute(_BY_ID_LOCKED if lock else _BY_ID, {"pk": pk}).first()


def last_counted_of_staff(conn: Connection, staff_pk: int, since: Any) -> Row[Any] | None:
    """The staff member's most recent counted call that started at `since` or later."""
    return conn.execute(_LAST_COUNTED, {"staff_pk": staff_pk, "since": since}).first()


def children_of(conn: Connection, call_sid: str) -> list[Row[Any]]:
    """The legs naming this CallSid as their parent (unlocked), oldest first."""
    return list(conn.execute(_CHILDREN, {"sid": call_sid}))


def patient_month_legs(conn: Connection, patient_pk: int, *, start: datetime,
                       end: datetime) -> list[Row[Any]]:
    """Every leg of the patient's calls that started in [start, end), with the other leg of
    each bridge (parent or child, matched or not), oldest first."""
    return list(conn.execute(_PATIENT_MONTH_LEGS,
                             {"patient_pk": patient_pk, "start": start, "end": end}))


def legs(conn: Connection, states: Sequence[str], limit: int) -> list[Row[Any]]:
    """Legs in `states` as people read them (`voided`: a counted call whose entry was
    voided; all when empty), newest first."""
    if states:
        return list(conn.execute(_IN_STATES, {"states": list(states), "limit": limit}))
    return list(conn.execute(_ALL, {"limit": limit}))


def insert_leg(conn: Connection, values: dict[str, Any]) -> int:
    """A new leg (every column but id); its id. A racing insert of the same CallSid breaks
    the unique key: the transaction rolls back (StoreConflict) and the use case retries."""
    row = {k: values[k] for k in COLUMNS if k != "id"}
    return int(conn.execute(_INSERT, row).scalar_one())


def update_leg(conn: Connection, pk: int, values: dict[str, Any]) -> None:
    """Write a leg's current values over the stored row (the row is locked by the caller)."""
    params = {k: values[k] for k in _WRITABLE}
    params["pk"] = pk
    conn.execute(_UPDATE, params)


# -- parties: who a number is -------------------------------------------------------------

StaffRow: Any = namedtuple("StaffRow", [c.key for c in staff.c])
# a patient row, with what its view shows beside the columns
PatientRow: Any = namedtuple("PatientRow", [c.key for c in patients.c] + [
    "phone_count", "caregiver_phone_count", "provider_slack_id", "assigned_slack_id"])


@dataclass(frozen=True)
class Match:
    """One number matched: to a staff member (phone, twilio_number or client) or a patient
    (patient or caregiver)."""

    number: str  # E.164, or client:NAME
    kind: str
    staff: Any = None  # StaffRow
    patient: Any = None  # PatientRow


_provider = staff.alias("provider")
_assigned = staff.alias("assigned")
_pp = patient_phones.alias("pp")


def _phone_count(kind: str) -> Any:
    return (select(func.count()).select_from(_pp)
            .where(_pp.c.patient_id == patients.c.id, _pp.c.kind == kind)
            .correlate(patients).scalar_subquery())


_PATIENT_EXTRAS = (_phone_count("patient").label("phone_count"),
                   _phone_count("caregiver").label("caregiver_phone_count"),
                   _provider.c.slack_user_id.label("provider_slack_id"),
                   _assigned.c.slack_user_id.label("assigned_slack_id"))

_numbers = bindparam("numbers", expanding=True)
_matches = union_all(
    select(staff_phones.c.e164.label("number"), staff_phones.c.kind.label("kind"),
           staff_phones.c.staff_id.label("staff_id"),
           cast(null(), Integer).label("patient_id"), literal(0).label("rank"))
    .where(staff_phones.c.e164.in_(_numbers)),
    select((literal("client:", String) + staff.c.twilio_client).label("number"),
           literal("client", String).label("kind"), staff.c.id.label("staff_id"),
           cast(null(), Integer).label("patient_id"), literal(0).label("rank"))
    .where(staff.c.twilio_client.in_(bindparam("clients", expanding=True))),
    select(patient_phones.c.e164.label("number"), patient_phones.c.kind.label("kind"),
           cast(null(), Integer).label("staff_id"),
           patient_phones.c.patient_id.label("patient_id"), literal(1).label("rank"))
    .where(patient_phones.c.e164.in_(_numbers)),
).subquery("m")

_STAFF_COLS = [c.label(f"s_{c.key}") for c in staff.c]
_PATIENT_COLS = [c.label(f"p_{c.key}") for c in patients.c]
_PARTIES = (
    select(_matches.c.number, _matches.c.kind, *_STAFF_COLS, *_PATIENT_COLS, *_PATIENT_EXTRAS)
    .select_from(_matches.outerjoin(staff, staff.c.id == _matches.c.staff_id)
                 .outerjoin(patients, patients.c.id == _matches.c.patient_id)
                 .outerjoin(_provider, _provider.c.id == patients.c.provider_id)
                 .outerjoin(_assigned, _assigned.c.id == patients.c.assigned_staff_id))
    .order_by(_matches.c.rank)
)
_PATIENT_VIEW = (select(patients, *_PATIENT_EXTRAS)
                 .select_from(patients
                              .outerjoin(_provider, _provider.c.id == patients.c.provider_id)
                              .outerjoin(_assigned,
                                         _assigned.c.id == patients.c.assigned_staff_id))
                 .where(patients.c.id == bindparam("pk")))
_STAFF_BY_PK = select(staff).where(staff.c.id == bindparam("pk"))


_S0 = 2  # row layout: number, kind, staff columns, patient columns, patient extras
_P0 = _S0 + len(staff.c)


def matches(conn: Connection, numbers: Iterable[str], clients: Iterable[str]) -> list[Match]:
    """Every staff phone, Twilio client and patient/caregiver phone among `numbers` (E.164)
    and `clients` (client names without the prefix); staff matches first."""
    found = []
    for row in conn.execute(_PARTIES, {"numbers": sorted(set(numbers)),
                                       "clients": sorted(set(clients))}):
        values = tuple(row)
        person_staff = StaffRow._make(values[_S0:_P0]) if values[_S0] is not None else None
        patient = PatientRow._make(values[_P0:]) if values[_P0] is not None else None
        found.append(Match(values[0], values[1], person_staff, patient))
    return found


def patient_with_view(conn: Connection, pk: int) -> Any:
    """A patient row with its view's extras (PatientRow), or None."""
    row = conn.execute(_PATIENT_VIEW, {"pk": pk}).first()
    return PatientRow(*row) if row is not None else None


def staff_by_pk(conn: Connection, pk: int) -> Any:
    """A staff row (StaffRow), or None."""
    row = conn.execute(_STAFF_BY_PK, {"pk": pk}).first()
    return StaffRow(*row) if row is not None else None


_STAFF_FIRST_PHONE = (select(staff_phones.c.e164)
                      .where(staff_phones.c.staff_id == bindparam("staff"),
                             staff_phones.c.kind == "phone")
                      .order_by(staff_phones.c.id).limit(1))
_PATIENT_FIRST_PHONE = (select(patient_phones.c.e164)
                        .where(patient_phones.c.patient_id == bindparam("patient"))
                        .order_by(patient_phones.c.kind.desc(), patient_phones.c.id).limit(1))


def staff_phone(conn: Connection, staff_pk: int) -> str | None:
    """The staff member's first own phone (not a Twilio number): whom a bridge rings."""
    return conn.execute(_STAFF_FIRST_PHONE, {"staff": staff_pk}).scalar()


def patient_phone(conn: Connection, patient_pk: int) -> str | None:
    """The patient's own number first, else a caregiver's: whom click-to-call bridges."""
    return conn.execute(_PATIENT_FIRST_PHONE, {"patient": patient_pk}).scalar()


# -- contacts (inbound SMS) ---------------------------------------------------------------

_CONTACT_BY_REF = select(contacts).where(contacts.c.external_ref == bindparam("ref"))
_INSERT_CONTACT = insert(contacts).returning(contacts.c.id)


def contact_by_ref(conn: Connection, external_ref: str) -> Row[Any] | None:
    return conn.execute(_CONTACT_BY_REF, {"ref": external_ref}).first()


def insert_contact(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_INSERT_CONTACT, values).scalar_one())
