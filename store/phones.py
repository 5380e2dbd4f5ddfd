"""Who holds a number: a phone belongs to one person, staff or patient, across both tables."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, literal_column, select, union_all
from sqlalchemy.engine import Connection, Row

from store.tables import patient_phones, staff_phones

_HOLDERS = union_all(
    select(literal_column("'staff'").label("side"), staff_phones.c.e164,
           staff_phones.c.staff_id.label("owner_id"), staff_phones.c.kind)
    .where(staff_phones.c.e164.in_(bindparam("numbers", expanding=True))),
    select(literal_column("'patient'").label("side"), patient_phones.c.e164,
           patient_phones.c.patient_id.label("owner_id"), patient_phones.c.kind)
    .where(patient_phones.c.e164.in_(bindparam("numbers", expanding=True))),
)


def holders(conn: Connection, numbers: Iterable[str]) -> dict[str, list[Row[Any]]]:
    """For each of `numbers` (E.164) that someone holds: its rows (`side` staff | patient,
    `owner_id`, `kind`), in one statement."""
    wanted = sorted(set(numbers))
    found: dict[str, list[Row[Any]]] = {}
    if not wanted:
        return found
    for row in conn.execute(_HOLDERS, {"numbers": wanted}):
        found.setdefault(row.e164, []).append(row)
    return found
