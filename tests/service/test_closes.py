"""Month close: later logs and voids dated in a closed month need an admin amendment."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from billing.months import Month
from service import Service
from service.closes import Amendment
from service.entries import LogRequest
from service.errors import BadInput, NotAllowed
from store.models import AuditEvent, TimeEntry
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE, log, seed

OCT = Month(2026, 10)
IN_OCTOBER = datetime(2026, 10, 20, 15, tzinfo=UTC)


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def _entries(svc: Service) -> list[TimeEntry]:
    with svc.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)).all())


def _late_log(svc: Service, amendment: Amendment | None = None) -> int:
    return svc.entries.log(LogRequest(patient="P-1042", duration="5m", activity="review",
                                      staff=NURSE, source="cli", started_at=IN_OCTOBER,
                                      amendment=amendment)).entry.id


def test_closing_locks_the_month(seeded: Service, clock: FrozenClock) -> None:
    entry_id = log(seeded, "20m", "call", started_at=IN_OCTOBER)
    closed = seeded.closes.close(OCT, by="cli:billing")
    assert (closed.month, closed.closed_by, closed.closed_at) == ("2026-10", "cli:billing",
                                                                  clock.now)
    with pytest.raises(BadInput, match="2026-10 is closed .* by cli:billing"):
        _late_log(seeded)
    with pytest.raises(BadInput, match="admin amendment"):
        seeded.entries.void(entry_id, reason="dup", by=NURSE)
    assert len(_entries(seeded)) == 1 and _entries(seeded)[0].voided_at is None
    # November is still open
    log(seeded, "5m")
    report = seeded.months.report(OCT)
    assert report[0].month_closed_by == "cli:billing"
    assert seeded.months.totals(OCT).closed_by == "cli:billing"
    assert seeded.closes.get(Month(2026, 9)) is None


def test_admin_amendment_records_its_reason(seeded: Service) -> None:
    entry_id = log(seeded, "20m", "call", started_at=IN_OCTOBER)
    seeded.closes.close(OCT, by="cli:billing")
    with pytest.raises(NotAllowed, match="Only an admin"):
        _late_log(seeded, Amendment(reason="late call note", by=NURSE))
    with pytest.raises(BadInput, match="needs a reason"):
        _late_log(seeded, Amendment(reason="  ", by=ADMIN))
    new_id = _late_log(seeded, Amendment(reason="paper log found", by=ADMIN))
    assert seeded.entries.get(new_id).amendment_reason == "paper log found"
    seeded.entries.void(entry_id, reason="wrong patient", by=ADMIN,
                        amendment=Amendment(reason="claim corrected", by=ADMIN))
    with seeded.ctx.db.read_session() as session:
        void_audit = session.exec(select(AuditEvent).where(
            AuditEvent.action == "entry.void")).one()
    assert void_audit.after["amendment_reason"] == "claim corrected"
    operator = _late_log(seeded, Amendment(reason="operator fix", by="cli:root", operator=True))
    assert seeded.entries.get(operator).amendment_reason == "operator fix"


def test_only_ended_months_close_and_only_once(seeded: Service) -> None:
    with pytest.raises(BadInput, match="has not ended"):
        seeded.closes.close(Month(2026, 11), by="x")
    seeded.closes.close(OCT, by="first")
    with pytest.raises(BadInput, match="already closed .* by first"):
        seeded.closes.close(OCT, by="second")


def test_report_rows_carry_what_auditors_ask_for(seeded: Service) -> None:
    log(seeded, "15m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    log(seeded, "10m", "review", staff=DOCTOR, started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    log(seeded, "20m", "call", started_at=datetime(2026, 11, 4, 16, tzinfo=UTC))
    log(seeded, "7m", "review", staff=CLERK, started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    row = seeded.months.summary("P-1042")
    assert row.live_interaction_dates == (datetime(2026, 11, 3).date(),
                                          datetime(2026, 11, 4).date())
    # counted seconds (they add up to the month's), and what each logged
    assert [(s.slack_user_id, s.seconds, s.logged_seconds, s.counts) for s in row.staff] == [
        (NURSE, 2100, 2100, True), (DOCTOR, 600, 600, True), (CLERK, 0, 420, False)]
    assert (row.provider, row.provider_npi) == ("Dee Doctor", "1234567890")
    assert row.consent_on == datetime(2026, 10, 1).date() and row.conditions == ("I10",)
    assert [(c.code, c.units) for c in row.codes] == [("99457", 1), ("99458", 1)]
    assert row.expected_amount == Decimal("93.00")


def test_month_totals_in_dollars(seeded: Service) -> None:
    from service.patients import PatientFields

    seeded.patients.add("P-2000", PatientFields(  # billable: consent and an order on file
        enrolled_on=date(2026, 1, 1), consent_on=date(2026, 1, 1), ordered_by=DOCTOR,
        order_on=date(2026, 1, 1)), actor="t")
    seeded.patients.add("P-3000", PatientFields(enrolled_on=datetime(2026, 1, 1).date()),
                        actor="t")
    log(seeded, "45m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    log(seeded, "12m", "call", patient="P-2000", started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    totals = seeded.months.totals(Month(2026, 11))
    assert (totals.patients, totals.billable) == (3, 2)
    assert totals.units == {"99457": 1, "99458": 1, "99470": 1}
    assert totals.expected_amount == Decimal("119.00")  # 52 + 41 + 26
    assert totals.at_risk == 2  # P-2000 (12 min) and P-3000 (nothing)
    assert totals.at_risk_amount == Decimal("78.00")  # (52 - 26) + 52
    assert totals.closed_by is None


def test_export_lists_every_entry_of_the_month(seeded: Service) -> None:
    first = log(seeded, "5m", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    log(seeded, "6m", "call", started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    log(seeded, "7m", started_at=IN_OCTOBER)
    seeded.entries.void(first, reason="dup", by=NURSE)
    exported = seeded.entries.for_month(Month(2026, 11))
    assert [e.duration_seconds for e in exported] == [300, 360]
    assert exported[0].void_reason == "dup" and exported[0].staff_name == "Nina Nurse"
    assert exported[0].patient_initials == "JD"
