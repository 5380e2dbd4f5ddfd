"""The month scan read page by page: the same answers whatever the page size, streamed."""

import inspect
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

import service.months
from billing.months import Month
from service import Service
from service.patients import PatientFields
from tests.service.helpers import CLERK, DOCTOR, NURSE, log, seed

NOV = Month(2026, 11)


@pytest.fixture
def clinic(svc: Service) -> Service:
    """Seven patients whose rows each need per-staff seconds, live dates or an overlap."""
    seed(svc)
    # P-1042 (no enrolment date, nothing logged) would be in November's programme: not here
    svc.patients.update("P-1042", PatientFields(ended_on=date(2026, 10, 31)), actor="t")
    for n in range(6):
        svc.patients.add(f"P-{n}", PatientFields(enrolled_on=date(2026, 1, 1),
                                                 assign=NURSE if n % 2 else DOCTOR), actor="t")
    for n in range(6):
        day = datetime(2026, 11, 2 + n, 15, tzinfo=UTC)
        log(svc, f"{5 + n}m", "call", patient=f"P-{n}", started_at=day)
        log(svc, "3m", "review", patient=f"P-{n}", staff=DOCTOR, started_at=day + timedelta(1))
        log(svc, "4m", "review", patient=f"P-{n}", staff=CLERK, started_at=day + timedelta(2))
    # an overlap on P-5: the nurse's second entry starts inside the first
    log(svc, "6m", "review", patient="P-5", started_at=datetime(2026, 11, 7, 15, 2, tzinfo=UTC))
    return svc


def test_pages_of_any_size_give_the_same_report_and_risks(
    clinic: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = clinic.months.report(NOV)
    risks = clinic.months.with_risk(NOV, date(2026, 11, 20))
    at_risk = clinic.months.at_risk(NOV, date(2026, 11, 20))
    assert len(whole) == 6 and all(s.staff and s.live_interaction_dates for s in whole)
    assert any("overlaps entry" in w for s in whole for w in s.warnings)
    for size in (1, 2, 4):
        monkeypatch.setattr(service.months, "PAGE_SIZE", size)
        assert clinic.months.report(NOV) == whole
        assert clinic.months.with_risk(NOV, date(2026, 11, 20)) == risks
        assert clinic.months.at_risk(NOV, date(2026, 11, 20)) == at_risk


def test_report_rows_is_a_generator_that_reads_a_page_at_a_time(
    clinic: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.months, "PAGE_SIZE", 2)
    pages: list[list[int]] = []
    read_page = service.months.MonthService._read_page

    def recording(self, session, context, pks, detail=True):  # type: ignore[no-untyped-def]
        pages.append(pks)
        return read_page(self, session, context, pks, detail)

    monkeypatch.setattr(service.months.MonthService, "_read_page", recording)
    rows = clinic.months.report_rows(NOV)
    assert inspect.isgenerator(rows)
    assert pages == []  # nothing read before the first row is asked for
    first = next(rows)
    assert first.patient_id == "P-0" and len(pages) == 1 and len(pages[0]) == 2
    rest = list(rows)
    assert [s.patient_id for s in rest] == ["P-1", "P-2", "P-3", "P-4", "P-5"]
    assert [len(p) for p in pages] == [2, 2, 2]


def test_risk_rows_carry_the_report_numbers_without_staff_shares_or_live_dates(
    clinic: Service,
) -> None:
    report = {s.patient_id: s for s in clinic.months.report(NOV)}
    risks = clinic.months.with_risk(NOV, date(2026, 11, 20))
    assert {r.summary.patient_id for r in risks} == set(report)  # the same patients
    for row in risks:
        full = report[row.summary.patient_id]
        assert row.summary == replace(full, staff=(), live_interaction_dates=())
