"""`audit verify` holds every row that changes what a month bills against the trail, not
only time entries (outside auditor: moving a patient's consent and enrolment dates earlier,
and deleting a month's close with its lines, both left verify "intact")."""

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from billing.months import Month
from service import Service
from service.patients import PatientFields
from service.staff import StaffChanges
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE, log, seed

OCT = Month(2026, 10)
IN_OCTOBER = datetime(2026, 10, 20, 15, tzinfo=UTC)


@pytest.fixture
def clinic(svc: Service) -> Service:
    """The shared seed, October billed and closed, a patient who ended and enrolled again."""
    seed(svc)
    log(svc, "25m", "call", started_at=IN_OCTOBER)
    svc.closes.close(OCT, by="office")
    svc.patients.add("P-2000", PatientFields(initials="QQ", enrolled_on=date(2026, 11, 2),
                                             consent_on=date(2026, 11, 2)), actor="test")
    svc.patients.end("P-2000", on=date(2026, 11, 5), actor="test")
    svc.patients.enrol("P-2000", on=date(2026, 11, 12), actor="test")
    svc.staff.update(CLERK, StaffChanges(role="clinical_staff"), actor="test")
    return svc


def _sql(svc: Service, statement: str, **params: Any) -> None:
    """A change made with raw SQL, behind the service's back."""
    with svc.ctx.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _kinds(svc: Service) -> list[tuple[str, str]]:
    return [(f.kind, f.message) for f in svc.audit_trail.verify().findings]


def test_every_service_write_leaves_the_billing_rows_matching_the_trail(clinic: Service) -> None:
    clinic.closes.reopen(OCT, reason="a review was missed", by=ADMIN, billed=True)
    log(clinic, "5m", started_at=datetime(2026, 10, 21, 15, tzinfo=UTC))
    clinic.closes.close(OCT, by="office")
    clinic.patients.update("P-1042", PatientFields(order_on=date(2026, 9, 15),
                                                   ordered_by=DOCTOR), actor="test")
    assert clinic.audit_trail.verify().clean


def test_a_consent_and_enrolment_moved_earlier_are_named(clinic: Service) -> None:
    _sql(clinic, "UPDATE patients SET consent_on = :d, enrolled_on = :d "
         "WHERE clinic_id = 'P-1042'", d=date(2026, 1, 1))
    [(kind, message)] = _kinds(clinic)
    assert kind == "patient_changed"
    assert message.startswith("patient P-1042 was edited behind the service's back: "
                              "consent_on, enrolled_on differ from its audit record #")
    assert "consent_on 2026-10-01 recorded, 2026-01-01 now" in message


@pytest.mark.parametrize(("statement", "field"), [
    ("UPDATE enrolment_episodes SET ended_on = NULL WHERE ended_on IS NOT NULL", "episodes"),
    ("UPDATE patients SET order_on = '2026-01-01' WHERE clinic_id = 'P-1042'", "order_on"),
    ("UPDATE patients SET ordering_provider_id = NULL WHERE clinic_id = 'P-1042'",
     "ordered_by"),
    ("UPDATE patients SET provider_id = (SELECT id FROM staff WHERE slack_user_id = "
     "'U01NURSE') WHERE clinic_id = 'P-1042'", "provider"),
])
def test_each_billing_field_of_a_patient_edited_is_named(clinic: Service, statement: str,
                                                         field: str) -> None:
    _sql(clinic, statement)
    [(kind, message)] = _kinds(clinic)
    assert kind == "patient_changed" and f": {field} differs from its audit record" in message


def test_a_staff_role_raised_behind_the_services_back_is_named(clinic: Service) -> None:
    _sql(clinic, "UPDATE staff SET role = 'physician' WHERE slack_user_id = :u", u=NURSE)
    [(kind, message)] = _kinds(clinic)
    assert kind == "staff_changed"
    assert f"staff {NURSE} was edited behind the service's back: role differs" in message


@pytest.mark.parametrize(("column", "value"), [
    ("npi", "1111111111"), ("name", "Someone Else"), ("is_admin", True), ("active", False)])
def test_a_staff_npi_name_or_standing_edited_is_named(clinic: Service, column: str,
                                                     value: object) -> None:
    """Outside auditor: the billing provider's NPI and a name edited with SQL read intact."""
    _sql(clinic, f"UPDATE staff SET {column} = :v WHERE slack_user_id = :u", v=value,
         u=DOCTOR)
    [(kind, message)] = _kinds(clinic)
    assert kind == "staff_changed" and f"{column} differs" in message, message


def test_a_reopens_billed_answer_edited_is_named(clinic: Service) -> None:
    """Outside auditor: setting a billed reopen to 'not billed' dropped a refund owed from
    the report, and verify read intact."""
    clinic.closes.reopen(OCT, reason="a review was missed", by=ADMIN, billed=True)
    _sql(clinic, "UPDATE month_close_events SET billed = :no WHERE action = 'reopen'", no=False)
    assert [k for k, _ in _kinds(clinic)] == ["close_changed"]


def test_a_patient_or_staff_row_inserted_or_deleted_is_named(clinic: Service) -> None:
    _sql(clinic, "INSERT INTO staff (slack_user_id, name, role, is_admin, active, created_at) "
         "VALUES ('UEVIL0001', 'Eve', 'physician', false, true, :at)", at=IN_OCTOBER)
    _sql(clinic, "DELETE FROM enrolment_episodes WHERE patient_id = (SELECT id FROM patients "
         "WHERE clinic_id = 'P-2000')")
    _sql(clinic, "DELETE FROM patients WHERE clinic_id = 'P-2000'")
    assert [k for k, _ in _kinds(clinic)] == ["staff_unaudited", "patient_deleted"]


def test_a_close_deleted_with_its_lines_is_named_the_month_reads_open(clinic: Service) -> None:
    _sql(clinic, "DELETE FROM month_close_lines")
    _sql(clinic, "DELETE FROM month_close_events")
    assert clinic.closes.get(OCT) is None  # what the attacker wanted: the month is open
    [(kind, message)] = _kinds(clinic)
    assert kind == "close_deleted"
    assert "the close of 2026-10 of 2026-11-20 20:00 UTC by office (audit record #" in message
    assert "a billed month was deleted behind the service's back, and the month now reads " \
        "open" in message


def test_a_close_edited_or_inserted_is_named(clinic: Service) -> None:
    _sql(clinic, "UPDATE month_close_events SET by = 'someone else'")
    _sql(clinic, "INSERT INTO month_close_events (month, action, at, by) "
         "VALUES ('2026-09', 'close', :at, 'forger')", at=IN_OCTOBER)
    assert [k for k, _ in _kinds(clinic)] == ["close_unaudited", "close_changed"]


def test_a_close_line_rewritten_is_named_even_when_the_totals_are_kept(clinic: Service) -> None:
    """Moving the billed units from one patient to another keeps every total."""
    clinic.closes.reopen(OCT, reason="add P-3000", by=ADMIN, billed=False)
    clinic.patients.add("P-3000", PatientFields(initials="ZZ", consent_on=date(2026, 9, 1)),
                        actor="test")
    log(clinic, "8m", patient="P-3000", started_at=IN_OCTOBER)
    clinic.closes.close(OCT, by="office")
    assert clinic.audit_trail.verify().clean
    with clinic.ctx.db.engine.connect() as conn:
        lines = {row.patient_id: row for row in conn.execute(text(
            "SELECT * FROM month_close_lines WHERE event_id = "
            "(SELECT max(id) FROM month_close_events)"))}
    billed, other = sorted(lines.values(), key=lambda line: -line.expected_cents)[:2]
    for line, taken in ((billed, other), (other, billed)):  # the codes and dollars swapped
        _sql(clinic, "UPDATE month_close_lines SET codes = :codes, expected_cents = :cents "
             "WHERE id = :id", codes=taken.codes if isinstance(taken.codes, str)
             else json.dumps(taken.codes), cents=taken.expected_cents,
             id=line.id)
    [(kind, message)] = _kinds(clinic)
    assert kind == "close_lines_changed" and "the close of 2026-10 billed" in message


def test_a_closer_renamed_in_the_table_is_named(clinic: Service) -> None:
    """The name kept beside the closer's id is held against the close's audit record."""
    clinic.closes.reopen(OCT, reason="a review was missed", by=ADMIN, billed=True)
    _sql(clinic, "UPDATE month_close_events SET by_name = 'Someone Else' WHERE action = 'reopen'")
    assert [k for k, _ in _kinds(clinic)] == ["close_changed"]


def test_a_close_lines_device_codes_rewritten_are_named(clinic: Service) -> None:
    """The close records device codes beside the time codes (issue 28): an edit of them
    behind the service's back is named like an edit of the time codes."""
    assert clinic.audit_trail.verify().clean
    _sql(clinic, "UPDATE month_close_lines SET device_codes = :codes",
         codes=json.dumps([["99453", 1], ["99454", 1]]))
    [(kind, message)] = _kinds(clinic)
    assert kind == "close_lines_changed" and "device units {'99453': 1, '99454': 1}" in message
