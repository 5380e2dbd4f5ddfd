"""Patient rows: the one resolver's statements (clinic id, else a phone)."""

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Row

from store.tables import patient_phones, patients

_BY_KEY = select(patients).where(patients.c.clinic_key == bindparam("key"))
_BY_PHONE = (select(patients).join(patient_phones, patient_phones.c.patient_id == patients.c.id)
             .where(patient_phones.c.e164 == bindparam("e164")).limit(1))
_CLINIC_IDS = select(patients.c.clinic_id).order_by(patients.c.clinic_id)


def by_key(conn: Connection, key: str) -> Row[Any] | None:
    """The patient row whose case-folded clinic id is `key`, or None."""
    return conn.execute(_BY_KEY, {"key": key}).first()


def by_phone(conn: Connection, e164: str) -> Row[Any] | None:
    """The patient a patient or caregiver number belongs to, or None."""
    return conn.execute(_BY_PHONE, {"e164": e164}).first()


def clinic_ids(conn: Connection) -> list[str]:
    """Every clinic id, sorted: the candidates a "did you mean" hint picks from."""
    return list(conn.execute(_CLINIC_IDS).scalars())
