"""The Core transactions store/ runs every statement in (issue 14): the same guards as the
ORM had, on both backends."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, insert, select, update

from service.errors import NotAllowed, NotFound
from service.lookups import require_active_staff, require_patient, require_staff
from store.db import Database, OverlongText, StoreConflict, UnstorableText
from store.tables import patients, staff

NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)


def _staff(conn, user: str = "U0AAA1", *, active: bool = True) -> int:  # type: ignore[no-untyped-def]
    return conn.execute(insert(staff).values(
        slack_user_id=user, name="Ann", role="clinical_staff", is_admin=False, active=active,
        created_at=NOW).returning(staff.c.id)).scalar_one()


def _count(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(staff)).scalar_one()


def test_a_core_insert_over_a_column_length_is_refused_and_nothing_is_saved(db: Database) -> None:
    with pytest.raises(OverlongText, match="name is over 200 characters"):
        with db.write() as conn:
            _staff(conn)
            conn.execute(insert(staff).values(slack_user_id="U2", name="x" * 201,
                                              role="qhp", created_at=NOW))
    assert _count(db) == 0


def test_a_core_update_with_bound_parameters_is_length_checked(db: Database) -> None:
    with db.write() as conn:
        _staff(conn)
    with pytest.raises(OverlongText, match="name is over 200"):
        with db.write() as conn:
            conn.execute(update(staff).values(name=select(staff.c.name).scalar_subquery()))
            conn.execute(update(staff), [{"name": "y" * 300}])
    with db.read() as conn:
        assert conn.execute(select(staff.c.name)).scalar_one() == "Ann"


def test_a_column_set_from_a_parameter_named_otherwise_is_length_checked(db: Database) -> None:
    """Outside review of issue 14: `.values(name=bindparam("new_name"))` sent the value under
    `new_name`, which the guard did not map to `name`; PostgreSQL then answered a 500."""
    with db.write() as conn:
        _staff(conn)
    renaming = update(staff).values(name=bindparam("new_name"))
    with pytest.raises(OverlongText, match="name is over 200"):
        with db.write() as conn:
            conn.execute(renaming, {"new_name": "z" * 201})
    with db.write() as conn:  # within the limit it is stored
        conn.execute(renaming, {"new_name": "Bea"})
    with db.read() as conn:
        assert conn.execute(select(staff.c.name)).scalar_one() == "Bea"


def test_nul_is_refused_in_core_statements(db: Database) -> None:
    with pytest.raises(UnstorableText):
        with db.write() as conn:
            conn.execute(insert(staff).values(slack_user_id="U2", name="a\x00b", role="qhp",
                                              created_at=NOW))
    assert _count(db) == 0


def test_a_unique_clash_in_a_write_is_a_conflict(db: Database) -> None:
    with db.write() as conn:
        _staff(conn)
    with pytest.raises(StoreConflict):
        with db.write() as conn:
            _staff(conn)
    assert _count(db) == 1


def test_lookups_find_the_actor_and_the_patient_in_the_callers_transaction(db: Database) -> None:
    with db.write() as conn:
        _staff(conn)
        _staff(conn, "U0AAA2", active=False)
        conn.execute(insert(patients).values(clinic_id="P-1042", clinic_key="P-1042",
                                             conditions=["I10"], created_at=NOW))
    with db.read() as conn:
        assert require_staff(conn, "<@u0aaa1|ann>").name == "Ann"
        assert require_patient(conn, "p-1042", region="US").conditions == ["I10"]
        with pytest.raises(NotAllowed, match="U0AAA2 is inactive and cannot log time"):
            require_active_staff(conn, "U0AAA2", doing="log time")
        with pytest.raises(NotFound, match="Did you mean P-1042"):
            require_patient(conn, "P-1024", region="US")
