"""A reply's month figures come from one statement (issue 14): `/rpm status P` and the
caseload read the patient (or the caseload), the entries, overlaps, staff names, the calls
to review and the month's close record at once, and say what the report says."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from billing.months import Month
from service import Service
from service.errors import NotFound
from store.models import Call
from store.patients import by_key
from tests.service.helpers import DOCTOR, NURSE, log, seed

OCT = Month(2026, 10)
NOV = Month(2026, 11)
IN_OCTOBER = datetime(2026, 10, 20, 15, tzinfo=UTC)
IN_NOVEMBER = datetime(2026, 11, 2, 15, tzinfo=UTC)


@contextmanager
def counted(svc: Service) -> Iterator[list[str]]:
    """The statements run inside the block, BEGIN left out (SQLite's only)."""
    seen: list[str] = []

    def before(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)
    event.listen(svc.ctx.db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(svc.ctx.db.engine, "before_cursor_execute", before)


def _call(svc: Service, sid: str, state: str, at: datetime = IN_OCTOBER) -> int:
    with svc.ctx.db.read() as conn:
        patient = by_key(conn, "P-1042")
        assert patient is not None
    with svc.ctx.db.write_session() as session:
        call = Call(call_sid=sid, status="completed", started_at=at, state=state,
                    patient_id=patient.id, created_at=at, updated_at=at)
        session.add(call)
        session.flush()
        assert call.id is not None
        return call.id


@pytest.fixture
def october(svc: Service) -> Service:
    """P-1042 with 25 min in October (closed, then reopened) and two calls to review."""
    seed(svc)
    log(svc, "25m", "call", started_at=IN_OCTOBER)
    log(svc, "5m", patient="P-1042", staff=DOCTOR, started_at=IN_OCTOBER.replace(hour=17))
    svc.closes.close(OCT, by="cli:billing")
    _call(svc, "CA" + "1" * 32, "unclaimed")
    _call(svc, "CA" + "2" * 32, "after_close")
    svc.closes.reopen(OCT, reason="late call", by="cli:billing", billed=False)
    return svc


@pytest.fixture
def november(svc: Service) -> Service:
    """An open month: P-1042 with time by two staff members and a call to review."""
    seed(svc)
    log(svc, "25m", "call", started_at=IN_NOVEMBER)
    log(svc, "5m", staff=DOCTOR, started_at=IN_NOVEMBER.replace(hour=17))
    _call(svc, "CA" + "3" * 32, "unconfirmed", IN_NOVEMBER)
    return svc


def test_a_reply_in_an_open_month_is_one_statement(november: Service) -> None:
    with counted(november) as statements:
        status = november.months.summary("p-1042", NOV, by_phone=False)
        caseload = november.months.caseload(NURSE, NOV)
    assert len(statements) == 2  # one each
    assert status == november.months.report(NOV)[0]
    assert [r.summary for r in caseload] == [
        r.summary for r in november.months.with_risk(NOV, assigned_to=NURSE)]
    assert "call C-1 awaits the staff member's answer: was it a live conversation?" \
        in status.warnings
    assert {s.name for s in status.staff} == {"Nina Nurse", "Dee Doctor"}


def test_status_of_a_patient_agrees_with_the_report_in_a_reopened_month(
        october: Service) -> None:
    with counted(october) as statements:
        status = october.months.summary("p-1042", OCT, by_phone=False)
    # the month statement, then what the close recorded and what changed since (3)
    assert len(statements) == 4
    report = {s.patient_id: s for s in october.months.report(OCT)}
    assert status == report["P-1042"]
    assert status.total_seconds == 1800
    assert [w for w in status.warnings if w.startswith("call C-")] == [
        w for w in report["P-1042"].warnings if w.startswith("call C-")]
    assert sum(w.startswith("call C-") for w in status.warnings) == 2
    assert status.billed_at_close is not None  # the close before the reopen: what was billed
    assert status.month_closed_by is None  # reopened since
    assert {s.name for s in status.staff} == {"Nina Nurse", "Dee Doctor"}
    assert status.provider == "Dee Doctor" and status.provider_npi == "1234567890"
    assert status.assigned_to == NURSE


def test_status_follows_the_close_record(october: Service) -> None:
    october.closes.close(OCT, by="cli:again")
    status = october.months.summary("P-1042", OCT, by_phone=False)
    assert status.month_closed_by == "cli:again"
    assert october.months.totals(OCT).closed_by == "cli:again"


def test_caseload_agrees_with_the_risk_list(october: Service) -> None:
    caseload = october.months.caseload(NURSE, OCT)
    assert caseload == october.months.with_risk(OCT, assigned_to=NURSE)
    assert [r.summary.patient_id for r in caseload] == ["P-1042"]


def test_caseload_of_an_unknown_or_patientless_staff_member(october: Service) -> None:
    assert october.months.caseload(DOCTOR, OCT) == []
    with pytest.raises(NotFound):
        october.months.caseload("U09NOBODY", OCT)


def test_status_by_phone_and_unknown_patients(october: Service) -> None:
    by_phone = october.months.summary("(617) 555-0123", OCT)
    assert by_phone == october.months.summary("P-1042", OCT)
    with pytest.raises(NotFound, match="Did you mean P-1042"):
        october.months.summary("P-1043", OCT)
    with pytest.raises(NotFound):
        october.months.summary("(617) 555-0123", OCT, by_phone=False)


def test_totals_read_the_month_once(october: Service) -> None:
    """Report, risk list, close and unmatched calls: one transaction, one month scan."""
    with counted(october) as statements:
        totals = october.months.totals(OCT)
    months_scans = [s for s in statements if "time_entries" in s and "patients" in s]
    assert len(months_scans) == 1
    assert totals.reopened is not None and "late call" in totals.reopened
    assert totals.patients == 1
