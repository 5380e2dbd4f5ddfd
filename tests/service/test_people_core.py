"""Staff, patients and the current patient on Core (issue 14): the audit snapshots are the
ones the ORM version wrote, phone changes land as they did, and a read of many rows is a
fixed number of statements."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select

from service import Service
from service.errors import BadInput, NotAllowed
from service.patients import PatientFields
from service.staff import StaffChanges
from store.tables import audit_events, staff_phones
from tests.service.helpers import ADMIN, DOCTOR, NURSE, seed


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def _last_audit(svc: Service) -> Any:
    with svc.ctx.db.read() as conn:
        return conn.execute(select(audit_events).order_by(audit_events.c.id.desc())).first()


def _audit_count(svc: Service) -> int:
    with svc.ctx.db.read() as conn:
        return len(conn.execute(select(audit_events.c.id)).all())


@contextmanager
def _selects(svc: Service) -> Iterator[list[str]]:
    """The SELECT statements run inside the block."""
    seen: list[str] = []

    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(svc.ctx.db.engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(svc.ctx.db.engine, "before_cursor_execute", _count)


def test_staff_update_audit_snapshots_and_phone_kinds(seeded: Service) -> None:
    view = seeded.staff.update(NURSE, StaffChanges(
        name=" Nina N ", add_twilio_numbers=("+1 617 555 0170",), twilio_client="client:nina",
        remove_phones=("617-555-0101",), add_phones=("617 555 0150",)), actor="t")
    assert (view.name, view.phone_count) == ("Nina N", 2)
    event = _last_audit(seeded)
    assert (event.action, event.entity_id) == ("staff.update", NURSE)
    assert event.before == {"slack_user_id": NURSE, "name": "Nina Nurse",
                            "role": "clinical_staff", "npi": None, "is_admin": False,
                            "active": True, "inactive_from": None,
                            "staff_phones": ["+1******0101"], "twilio_client": None,
                            "email": None, "voice_pin": False}
    assert event.after == {"slack_user_id": NURSE, "name": "Nina N", "role": "clinical_staff",
                           "npi": None, "is_admin": False, "active": True,
                           "inactive_from": None,
                           "staff_phones": ["+1******0150", "+1******0170"],
                           "twilio_client": "nina", "email": None, "voice_pin": False}
    with seeded.ctx.db.read() as conn:
        kinds = dict(conn.execute(select(staff_phones.c.e164, staff_phones.c.kind)).all())
    assert kinds == {"+16175550150": "phone", "+16175550170": "twilio_number"}


def test_a_number_removed_and_given_back_in_one_update_stays_one_row(seeded: Service) -> None:
    view = seeded.staff.update(NURSE, StaffChanges(remove_phones=("+16175550101",),
                                                   add_twilio_numbers=("+16175550101",)),
                               actor="t")
    assert view.phone_count == 1
    with seeded.ctx.db.read() as conn:
        rows = conn.execute(select(staff_phones.c.e164, staff_phones.c.kind)).all()
    assert [tuple(r) for r in rows] == [("+16175550101", "twilio_number")]


def test_refused_staff_changes_change_nothing(seeded: Service) -> None:
    audits = _audit_count(seeded)
    with pytest.raises(BadInput, match="already belongs to another staff member"):
        seeded.staff.update(DOCTOR, StaffChanges(name="Changed", add_phones=("617-555-0101",)),
                            actor="t")
    with pytest.raises(BadInput, match="has no phone ending 0199"):
        seeded.staff.update(NURSE, StaffChanges(remove_phones=("617-555-0199",)), actor="t")
    seeded.staff.update(NURSE, StaffChanges(twilio_client="nina"), actor="t")
    with pytest.raises(BadInput, match="already belongs to U01NURSE"):
        seeded.staff.update(DOCTOR, StaffChanges(twilio_client="nina"), actor="t")
    assert seeded.staff.get(DOCTOR).name == "Dee Doctor"
    assert _audit_count(seeded) == audits + 1


def test_patient_update_audit_snapshots(seeded: Service) -> None:
    seeded.patients.update("P-1042", PatientFields(
        initials="jq", conditions=("e11.9",), assign="", remove_phones=("617-555-0124",),
        phones=("617 555 0130",), enrolled_on=date(2026, 10, 2)), actor="t")
    event = _last_audit(seeded)
    assert (event.action, event.entity_id) == ("patient.update", "P-1042")
    assert event.before == {
        "patient_id": "P-1042", "initials": "JD", "consent_on": "2026-10-01",
        "conditions": ["I10"], "provider": DOCTOR, "assigned_to": NURSE, "enrolled_on": None,
        "ended_on": None, "ordered_by": DOCTOR, "order_on": "2026-09-01", "last_visit_on": None,
        "episodes": [[None, None]],
        "phones": ["+1******0123"], "caregiver_phones": ["+1******0124"]}
    assert event.after == {
        "patient_id": "P-1042", "initials": "JQ", "consent_on": "2026-10-01",
        "conditions": ["E11.9", "I10"], "provider": DOCTOR, "assigned_to": None,
        "enrolled_on": "2026-10-02", "ended_on": None, "ordered_by": DOCTOR,
        "order_on": "2026-09-01", "last_visit_on": None, "episodes": [["2026-10-02", None]],
        "phones": ["+1******0123", "+1******0130"], "caregiver_phones": []}
    view = seeded.patients.get("+1 617 555 0130")
    assert (view.initials, view.assigned_to, view.phone_count,
            view.caregiver_phone_count) == ("JQ", None, 2, 0)


def test_chat_admin_refusal_names_admins_and_changes_nothing(seeded: Service) -> None:
    audits = _audit_count(seeded)
    with pytest.raises(NotAllowed, match=f"Admins: {ADMIN}."):
        seeded.admin.add_patient(NURSE, "P-3000", "AB")
    with pytest.raises(BadInput, match="already exists"):
        seeded.admin.add_patient(ADMIN, "p-1042", "AB")
    assert seeded.admin.add_patient(ADMIN, "P-3000", "ab").label == "P-3000 (AB)"
    assert _audit_count(seeded) == audits + 1


@pytest.mark.parametrize("read", [
    lambda s: s.patients.list(),
    lambda s: s.patients.list(assigned_to=NURSE),
    lambda s: s.staff.list(include_inactive=True),
])
def test_lists_read_a_fixed_number_of_statements(seeded: Service,
                                                 read: Callable[[Service], Any]) -> None:
    """Formerly one statement per listed row, and more per patient (N+1)."""
    with _selects(seeded) as few:
        read(seeded)
    for i in range(5):
        seeded.patients.add(f"P-{3000 + i}", PatientFields(assign=NURSE, provider=DOCTOR),
                            actor="t")
        seeded.staff.add(slack_user_id=f"U1{i}STAFF", name=f"S{i}", role="clinical_staff",
                         actor="t")
    with _selects(seeded) as many:
        read(seeded)
    assert len(many) == len(few) <= 2


def test_current_patient_is_one_read_for_both_scopes(seeded: Service) -> None:
    seeded.current_patient.use(channel_id="D1", user_id=NURSE, patient_ref="P-1042")
    with _selects(seeded) as seen:
        current = seeded.current_patient.current(channel_id="C7", user_id=NURSE)
    assert current is not None and current.label == "P-1042 (JD)"
    assert current.provider == DOCTOR and current.caregiver_phone_count == 1
    assert len(seen) == 1
    seeded.current_patient.use(channel_id="C7", user_id=DOCTOR, patient_ref=None)
    assert seeded.current_patient.current(channel_id="C7", user_id=NURSE) == current


def test_a_patient_cannot_be_given_to_a_member_who_left(seeded: Service) -> None:
    """Outside try of issue 24: importing the onboarding file again after an offboarding gave
    the leaver her patients back (`assign` named her), as `patient update --assign` did.
    Naming an inactive member is refused for assignee, provider and ordering provider; a
    field already naming them (the records before she left) may stay."""
    from service.patients import PatientFields

    seeded.staff.add(slack_user_id="U09GONE", name="Gone Doc", role="physician",
                     actor="t")
    seeded.patients.update("P-1042", PatientFields(provider="U09GONE"), actor="t")
    seeded.staff.update("U09GONE", StaffChanges(active=False), actor="t")
    for fields in (PatientFields(assign="U09GONE"), PatientFields(ordered_by="U09GONE")):
        with pytest.raises(BadInput, match="U09GONE is no longer active"):
            seeded.patients.update("P-1042", fields, actor="t")
    # the provider she already is stays, and other changes go through
    seeded.patients.update("P-1042", PatientFields(provider="U09GONE", initials="JX"),
                           actor="t")
    with pytest.raises(BadInput, match="no longer active"):
        seeded.patients.add("P-7777", PatientFields(assign="U09GONE"), actor="t")
