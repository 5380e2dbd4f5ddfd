"""Who holds a number: a phone belongs to one person, staff or patient, across both tables."""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Column,
    Table,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
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


class PhoneList:
    """One owner's numbers in a phone table (staff_phones, patient_phones): the same four
    statements for either, keyed by the owner's pk."""

    def __init__(self, table: Table, owner: Column[Any]) -> None:
        self._owner_key = owner.key
        self._list = (select(table.c.e164, table.c.kind)
                      .where(owner == bindparam("owner_pk")).order_by(table.c.e164))
        self._add = insert(table)
        self._set_kind = (update(table)
                          .where(owner == bindparam("owner_pk"),
                                 table.c.e164 == bindparam("number"))
                          .values(kind=bindparam("new_kind")))
        self._drop = delete(table).where(owner == bindparam("owner_pk"),
                                         table.c.e164.in_(bindparam("numbers", expanding=True)))

    def of(self, conn: Connection, owner_pk: int) -> dict[str, str]:
        """The owner's numbers: E.164 -> kind."""
        return {row.e164: row.kind for row in conn.execute(self._list, {"owner_pk": owner_pk})}

    def save(self, conn: Connection, owner_pk: int, before: Mapping[str, str],
             after: Mapping[str, str]) -> None:
        """Make the owner's numbers go from `before` to `after` (E.164 -> kind): at most one
        DELETE, one INSERT and one UPDATE per changed kind."""
        dropped = [e164 for e164 in before if e164 not in after]
        if dropped:
            conn.execute(self._drop, {"owner_pk": owner_pk, "numbers": dropped})
        added = [{self._owner_key: owner_pk, "e164": e164, "kind": kind}
                 for e164, kind in after.items() if e164 not in before]
        if added:
            conn.execute(self._add, added)
        for e164, kind in after.items():
            if e164 in before and before[e164] != kind:
                conn.execute(self._set_kind, {"owner_pk": owner_pk, "number": e164,
                                              "new_kind": kind})


STAFF_PHONES = PhoneList(staff_phones, staff_phones.c.staff_id)
PATIENT_PHONES = PhoneList(patient_phones, patient_phones.c.patient_id)
