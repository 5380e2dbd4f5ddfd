"""Patient rows and their phones: the one resolver's statements (clinic id, else a phone),
the patient as people read it (provider, assignee, phone counts: one statement), and the
writes of enrolling and changing patients."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Row

from store.phones import PATIENT_PHONES
from store.tables import patient_phones, patients, staff

_BY_KEY = select(patients).where(patients.c.clinic_key == bindparam("key"))
_BY_PHONE = (select(patients).join(patient_phones, patient_phones.c.patient_id == patients.c.id)
             .where(patient_phones.c.e164 == bindparam("e164")).limit(1))
_CLINIC_IDS = select(patients.c.clinic_id).order_by(patients.c.clinic_id)


def _phone_count(kind: str) -> Any:
    counted = patient_phones.alias(f"{kind}_phones")  # not the by-phone join's table
    return (select(func.count()).select_from(counted)
            .where(counted.c.patient_id == patients.c.id, counted.c.kind == kind)
            .correlate(patients).scalar_subquery())


_provider = staff.alias("provider")
_assignee = staff.alias("assignee")
_orderer = staff.alias("orderer")
# A patient as people read them: every column, the billing provider's, assignee's and
# ordering provider's Slack ids and how many patient and caregiver numbers they have.
DETAIL_COLUMNS = (*patients.c, _provider.c.slack_user_id.label("provider_slack_id"),
                  _assignee.c.slack_user_id.label("assigned_slack_id"),
                  _orderer.c.slack_user_id.label("ordered_by_slack_id"),
                  _provider.c.name.label("provider_name"),
                  _assignee.c.name.label("assigned_name"),
                  _orderer.c.name.label("ordered_by_name"),
                  _phone_count("patient").label("patient_phones"),
                  _phone_count("caregiver").label("caregiver_phones"))
DETAIL_FROM = (patients
               .outerjoin(_provider, _provider.c.id == patients.c.provider_id)
               .outerjoin(_assignee, _assignee.c.id == patients.c.assigned_staff_id)
               .outerjoin(_orderer, _orderer.c.id == patients.c.ordering_provider_id))
_DETAIL = select(*DETAIL_COLUMNS).select_from(DETAIL_FROM)
_DETAIL_BY_KEY = _DETAIL.where(patients.c.clinic_key == bindparam("key"))
_DETAIL_BY_PK = _DETAIL.where(patients.c.id == bindparam("pk"))
_DETAIL_BY_PHONE = (_DETAIL.join(patient_phones, patient_phones.c.patient_id == patients.c.id)
                    .where(patient_phones.c.e164 == bindparam("e164")).limit(1))
_DETAILS = _DETAIL.order_by(patients.c.clinic_key)
_DETAILS_OF = (_DETAIL.where(patients.c.assigned_staff_id == bindparam("staff_pk"))
               .order_by(patients.c.clinic_key))

_INSERT = insert(patients).returning(*patients.c)
_UPDATE = update(patients).where(patients.c.id == bindparam("pk")).returning(*patients.c)

def by_key(conn: Connection, key: str) -> Row[Any] | None:
    """The patient row whose case-folded clinic id is `key`, or None."""
    return conn.execute(_BY_KEY, {"key": key}).first()


def by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The patient a patient or caregiver number belongs to, or None."""
    return conn.execute(_BY_PHONE, {"e164": e164}).first()


def clinic_ids(conn: Connection) -> list[str]:
    """Every clinic id, sorted: the candidates a "did you mean" hint picks from."""
    return list(conn.execute(_CLINIC_IDS).scalars())


def detail_by_key(conn: Connection, key: str) -> Row[Any] | None:
    """The patient row with `provider_slack_id`, `assigned_slack_id`, `ordered_by_slack_id`,
    `patient_phones` and `caregiver_phones` (counts), by case-folded clinic id; or None."""
    return conn.execute(_DETAIL_BY_KEY, {"key": key}).first()


def detail_by_pk(conn: Connection, pk: int) -> Row[Any] | None:
    return conn.execute(_DETAIL_BY_PK, {"pk": pk}).first()


def detail_by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The detail row of the patient a patient or caregiver number belongs to, or None."""
    return conn.execute(_DETAIL_BY_PHONE, {"e164": e164}).first()


def details(conn: Connection, *, assigned_pk: int | None = None) -> list[Row[Any]]:
    """Every patient's detail row (or those assigned to staff `assigned_pk`), by clinic id."""
    if assigned_pk is None:
        return list(conn.execute(_DETAILS))
    return list(conn.execute(_DETAILS_OF, {"staff_pk": assigned_pk}))


def insert_patient(conn: Connection, values: Mapping[str, Any]) -> Row[Any]:
    """Insert a patient; the stored row (with its id)."""
    return conn.execute(_INSERT, dict(values)).one()


def update_patient(conn: Connection, pk: int, values: Mapping[str, Any]) -> Row[Any]:
    """Set `values` (column: value) on patient `pk`; the row as it now is."""
    return conn.execute(_UPDATE, {**values, "pk": pk}).one()


def phones(conn: Connection, patient_pk: int) -> dict[str, str]:
    """The patient's numbers: E.164 -> kind (patient | caregiver)."""
    return PATIENT_PHONES.of(conn, patient_pk)


def save_phones(conn: Connection, patient_pk: int, before: Mapping[str, str],
                after: Mapping[str, str]) -> None:
    """Make the patient's numbers go from `before` to `after` (E.164 -> kind)."""
    PATIENT_PHONES.save(conn, patient_pk, before, after)


_WITH_DIGITS = (select(patients).where(patients.c.clinic_key.like(bindparam("pattern")))
                .order_by(patients.c.clinic_key))


def with_digits_in_order(conn: Connection, digits: str) -> list[Row[Any]]:
    """Patients whose clinic id holds these digits in this order (maybe with others between:
    the caller compares the exact digit sequence), by clinic id."""
    pattern = "%" + "%".join(digits) + "%"
    return list(conn.execute(_WITH_DIGITS, {"pattern": pattern}))


# Offboarding (service/offboarding.py): a leaver's patients, and moving them in one statement.
_ASSIGNED_TO = (select(patients.c.id, patients.c.clinic_id, patients.c.initials)
                .where(patients.c.assigned_staff_id == bindparam("staff_pk"))
                .order_by(patients.c.clinic_key))
_REASSIGN = (update(patients).where(patients.c.assigned_staff_id == bindparam("from_pk"))
             .values(assigned_staff_id=bindparam("to_pk")))


def assigned_to(conn: Connection, staff_pk: int) -> list[Row[Any]]:
    """(id, clinic_id, initials) of the patients assigned to staff `staff_pk`, by clinic id."""
    return list(conn.execute(_ASSIGNED_TO, {"staff_pk": staff_pk}))


def reassign_all(conn: Connection, from_pk: int, to_pk: int) -> int:
    """Assign every patient of staff `from_pk` to staff `to_pk`; how many moved."""
    return int(conn.execute(_REASSIGN, {"from_pk": from_pk, "to_pk": to_pk}).rowcount)
