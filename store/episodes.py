"""Enrolment episodes (issue 26 #10): each stretch of a patient's enrolment, oldest first.

`patients.enrolled_on`/`ended_on` repeat the latest episode (the service writes both in one
transaction). A month statement reads a patient's episodes as one text column
(`episodes_column`: "start:end,start:end", an empty side for an open one), so a reply's
month figures stay one statement; `spans` turns it back into dates.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import ColumnElement

from billing.programme import Enrolment
from store.tables import enrolment_episodes, patients

ep = enrolment_episodes

_OF = (select(ep).where(ep.c.patient_id == bindparam("patient_pk"))
       .order_by(ep.c.started_on.is_not(None), ep.c.started_on, ep.c.id))
_INSERT = insert(ep).returning(*ep.c)
_UPDATE = update(ep).where(ep.c.id == bindparam("pk")).returning(*ep.c)


def of_patient(conn: Connection, patient_pk: int) -> list[Row[Any]]:
    """The patient's episodes, oldest first (one without a start first)."""
    return list(conn.execute(_OF, {"patient_pk": patient_pk}))


def enrolment(conn: Connection, patient: Any) -> Enrolment:
    """The episodes of a patient row (`id`, `enrolled_on`, `ended_on`); with none on
    record, the row's own window."""
    rows = of_patient(conn, patient.id)
    if not rows:
        return Enrolment.single(patient.enrolled_on, patient.ended_on)
    return Enrolment.of((r.started_on, r.ended_on) for r in rows)


def insert_episode(conn: Connection, values: Mapping[str, Any]) -> Row[Any]:
    return conn.execute(_INSERT, dict(values)).one()


def update_episode(conn: Connection, pk: int, values: Mapping[str, Any]) -> Row[Any]:
    """Set `values` (started_on / ended_on) on episode `pk`; the row as it now is."""
    return conn.execute(_UPDATE, {**values, "pk": pk}).one()


def _day_text(column: Any) -> Any:
    return func.coalesce(cast(column, String), "")


def episodes_column(patient_id: Any = patients.c.id) -> Any:
    """The patient's episodes as "start:end" joined by commas (any order; '' when none)."""
    pair = _day_text(ep.c.started_on) + ":" + _day_text(ep.c.ended_on)
    return (select(func.aggregate_strings(pair, literal_column("','")))
            .where(ep.c.patient_id == patient_id).scalar_subquery())


def spans(text: str | None) -> tuple[tuple[date | None, date | None], ...]:
    """`episodes_column`'s text back as (started_on, ended_on) pairs (None: open)."""
    def day(value: str) -> date | None:
        return date.fromisoformat(value[:10]) if value else None
    pairs = (item.split(":", 1) for item in (text or "").split(",") if item)
    return tuple((day(start), day(end)) for start, end in pairs)


def overlaps_month(patient_id: Any = patients.c.id) -> ColumnElement[bool]:
    """Some episode of the patient has a day between the bound `first_day` and `last_day`."""
    return exists().where(
        ep.c.patient_id == patient_id,
        or_(ep.c.started_on.is_(None), ep.c.started_on <= bindparam("last_day")),
        or_(ep.c.ended_on.is_(None), ep.c.ended_on >= bindparam("first_day")))


__all__ = ["enrolment", "episodes_column", "insert_episode", "of_patient", "overlaps_month",
           "spans", "update_episode"]
