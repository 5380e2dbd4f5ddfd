"""Devices and their readings (issue 28): every statement the device use cases run.

Reading values are PHI: they are written here and read back only for a backup; no statement
here returns them to a screen (the screens count days). A batch of readings is one insert
(executemany); a replay is found by `dedupe_key` before it, and the unique key refuses what
a concurrent request stored meanwhile (ON CONFLICT DO NOTHING on both databases).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from billing.programme import Enrolment
from store.episodes import episodes_column
from store.month_totals import enrolment_of
from store.tables import device_readings, devices, patients

dv = devices
rd = device_readings

_INSERT_DEVICE = insert(dv).returning(*dv.c)
_BY_SERIAL = select(dv).where(dv.c.serial_key == bindparam("key")).order_by(dv.c.started_on)
_END = update(dv).where(dv.c.id == bindparam("pk")).values(
    ended_on=bindparam("ended_on")).returning(*dv.c)
_LIST = (select(dv, patients.c.clinic_id)
         .join(patients, patients.c.id == dv.c.patient_id)
         .order_by(patients.c.clinic_key, dv.c.started_on, dv.c.id))
_INSTANTS = (select(rd.c.measured_at, rd.c.source)
             .where(rd.c.patient_id == bindparam("patient_pk"))
             .order_by(rd.c.measured_at))
_UNMATCHED = (select(func.min(rd.c.serial).label("serial"), rd.c.serial_key,
                     func.count().label("readings"),
                     func.min(rd.c.measured_at).label("first"),
                     func.max(rd.c.measured_at).label("last"))
              .where(rd.c.patient_id.is_(None))
              .group_by(rd.c.serial_key)
              .order_by(rd.c.serial_key))
_UNMATCHED_OF = (select(rd.c.id, rd.c.measured_at)
                 .where(rd.c.patient_id.is_(None), rd.c.serial_key == bindparam("key"))
                 .order_by(rd.c.id))
_ATTACH = (update(rd).where(rd.c.id == bindparam("reading_pk"))
           .values(device_id=bindparam("device_pk"), patient_id=bindparam("patient_pk"),
                   attached_by=bindparam("by")))


def insert_device(conn: Connection, values: Mapping[str, Any]) -> Row[Any]:
    return conn.execute(_INSERT_DEVICE, dict(values)).one()


def by_serial(conn: Connection, serial_key: str) -> list[Row[Any]]:
    """Every lending of the serial, oldest first."""
    return list(conn.execute(_BY_SERIAL, {"key": serial_key}))


def end_device(conn: Connection, pk: int, ended_on: date) -> Row[Any]:
    return conn.execute(_END, {"pk": pk, "ended_on": ended_on}).one()


def listed(conn: Connection, *, patient_pk: int | None = None) -> list[Row[Any]]:
    """Devices with their patient's clinic id, by patient then start."""
    statement = _LIST if patient_pk is None else _LIST.where(dv.c.patient_id == patient_pk)
    return list(conn.execute(statement))


def lendings(conn: Connection, serial_keys: Iterable[str]) -> dict[str, list[Row[Any]]]:
    """The lendings of each serial asked for (one statement), oldest first."""
    keys = sorted(set(serial_keys))
    found: dict[str, list[Row[Any]]] = {key: [] for key in keys}
    if keys:
        statement = select(dv).where(dv.c.serial_key.in_(keys)).order_by(dv.c.started_on)
        for row in conn.execute(statement):
            found[row.serial_key].append(row)
    return found


def patient_pks(conn: Connection, clinic_keys: Iterable[str]) -> dict[str, int]:
    """Patient primary keys by clinic key, for the keys that exist (one statement)."""
    keys = sorted(set(clinic_keys))
    if not keys:
        return {}
    statement = select(patients.c.clinic_key, patients.c.id).where(
        patients.c.clinic_key.in_(keys))
    return {row.clinic_key: row.id for row in conn.execute(statement)}


_CHUNK = 1000  # keys per IN list (a CSV file may hold many thousands)


def known_keys(conn: Connection, dedupe_keys: Sequence[str]) -> set[str]:
    """The dedupe keys already stored, of those asked for (one statement per 1000)."""
    keys = sorted(set(dedupe_keys))
    found: set[str] = set()
    for at in range(0, len(keys), _CHUNK):
        statement = select(rd.c.dedupe_key).where(rd.c.dedupe_key.in_(keys[at:at + _CHUNK]))
        found |= set(conn.execute(statement).scalars())
    return found


def insert_readings(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store the readings in one statement; a key another request stored meanwhile is
    skipped, not an error."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(rd).on_conflict_do_nothing(index_elements=["dedupe_key"])
    conn.execute(statement, [dict(row) for row in rows])


def instants(conn: Connection, patient_pk: int) -> list[Row[Any]]:
    """(measured_at, source) of every reading of the patient, oldest first: a patient has a
    few a day, and billing.devices groups them by clinic day."""
    return list(conn.execute(_INSTANTS, {"patient_pk": patient_pk}))


def instants_of(conn: Connection, patient_pks_: Iterable[int], *, since: datetime | None = None,
                until: datetime | None = None) -> dict[int, list[datetime]]:
    """Reading instants of several patients (one statement), optionally in [since, until)."""
    pks = sorted(set(patient_pks_))
    found: dict[int, list[datetime]] = {pk: [] for pk in pks}
    if not pks:
        return found
    statement = select(rd.c.patient_id, rd.c.measured_at).where(rd.c.patient_id.in_(pks))
    if since is not None:
        statement = statement.where(rd.c.measured_at >= since)
    if until is not None:
        statement = statement.where(rd.c.measured_at < until)
    for row in conn.execute(statement.order_by(rd.c.measured_at)):
        found[row.patient_id].append(row.measured_at)
    return found


@dataclass(frozen=True)
class PatientWindow:
    """What a patient's device periods are cut by (billing.devices): their label, consent
    date and enrolment episodes."""

    clinic_id: str
    initials: str | None
    consent_on: date | None
    enrolment: Enrolment


def windows_of(conn: Connection, patient_pks_: Iterable[int]) -> dict[int, PatientWindow]:
    """Each patient's clinic id, initials, consent and episodes (one statement)."""
    pks = sorted(set(patient_pks_))
    if not pks:
        return {}
    statement = select(patients.c.id, patients.c.clinic_id, patients.c.initials,
                       patients.c.consent_on, patients.c.enrolled_on, patients.c.ended_on,
                       episodes_column().label("episodes")).where(patients.c.id.in_(pks))
    return {row.id: PatientWindow(row.clinic_id, row.initials, row.consent_on,
                                  enrolment_of(row.episodes, row.enrolled_on, row.ended_on))
            for row in conn.execute(statement)}


def unmatched(conn: Connection) -> list[Row[Any]]:
    """Unmatched readings by serial: serial, count, first and last instant."""
    return list(conn.execute(_UNMATCHED))


def unmatched_of(conn: Connection, serial_key: str) -> list[Row[Any]]:
    """(id, measured_at) of the serial's unmatched readings."""
    return list(conn.execute(_UNMATCHED_OF, {"key": serial_key}))


def attach(conn: Connection, pairs: Sequence[Mapping[str, Any]]) -> None:
    """Give readings (reading_pk) their device and patient (device_pk, patient_pk, by)."""
    if pairs:
        conn.execute(_ATTACH, [dict(p) for p in pairs])


_DETACH = (update(rd).where(rd.c.device_id == bindparam("device_pk"),
                           rd.c.measured_at >= bindparam("since"))
           .values(device_id=None, patient_id=None, attached_by=None))


def detach_from(conn: Connection, device_pk: int, since: datetime) -> int:
    """The device's readings measured from `since` on become unmatched again (a lending
    ended back-dated); how many."""
    return int(conn.execute(_DETACH, {"device_pk": device_pk, "since": since}).rowcount)


def reading_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(rd)).scalar_one())
