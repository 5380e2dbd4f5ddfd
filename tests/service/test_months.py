"""Month summaries and the all-patients report from one aggregate query."""

from datetime import UTC, date, datetime

import pytest

from billing.months import Month
from service import Policy, Service, ServiceContext
from service.patients import PatientFields
from store.db import Database
from tests.conftest import FrozenClock
from tests.service.helpers import CLERK, DOCTOR, NURSE, log, seed

NOV = Month(2026, 11)


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def test_report_includes_only_patients_enrolled_in_the_month(seeded: Service) -> None:
    seeded.patients.add("P-ENROLLED", PatientFields(enrolled_on=date(2026, 11, 25)), actor="t")
    seeded.patients.add("P-ENDED", PatientFields(enrolled_on=date(2026, 1, 1),
                                                 ended_on=date(2026, 10, 31)), actor="t")
    seeded.patients.add("P-LATER", PatientFields(enrolled_on=date(2026, 12, 1)), actor="t")
    # no enrolment date, nothing logged: in the programme from the month it was added
    seeded.patients.add("P-NODATE", PatientFields(), actor="t")
    log(seeded, "5m")  # P-1042 has no enrolment date but an entry
    ids = [s.patient_id for s in seeded.months.report(NOV)]
    assert ids == ["P-1042", "P-ENROLLED", "P-NODATE"]
    assert [s.patient_id for s in seeded.months.report(Month(2026, 10))] == ["P-ENDED"]


def test_report_totals_match_each_summary(seeded: Service) -> None:
    seeded.patients.add("P-2000", PatientFields(initials="AB", enrolled_on=date(2026, 1, 1)),
                        actor="t")
    log(seeded, "25m", "call", started_at=datetime(2026, 11, 2, 15, tzinfo=UTC))
    log(seeded, "45m", "review", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    log(seeded, "10m", "call", patient="P-2000", staff=DOCTOR,
        started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    log(seeded, "30m", "review", patient="P-2000", staff=CLERK,
        started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    log(seeded, "60m", "call", started_at=datetime(2026, 10, 5, 15, tzinfo=UTC))  # October
    report = {s.patient_id: s for s in seeded.months.report(NOV)}
    assert report["P-1042"].total_seconds == 4200
    assert [(c.code, c.units) for c in report["P-1042"].codes] == [("99457", 1), ("99458", 2)]
    assert report["P-2000"].total_seconds == 600
    assert [(c.code, c.units) for c in report["P-2000"].codes] == [("99470", 1)]
    assert report["P-2000"].uncounted_seconds == 1800
    for patient_id, row in report.items():
        assert seeded.months.summary(patient_id, NOV) == row


def test_cap_on_99458_is_a_setting(db: Database, clock: FrozenClock) -> None:
    """Default 3 (CMS's practitioner MUE); CPT_99458_MAX_UNITS=2 for stricter payers."""
    assert Policy().max_99458_units == 3
    svc = Service(ServiceContext(db, Policy(max_99458_units=2), clock))
    seed(svc)
    for day in (2, 3, 4, 5, 6):
        log(svc, "20m", "call", started_at=datetime(2026, 11, day, 15, tzinfo=UTC))
    assert [(c.code, c.units) for c in svc.months.summary("P-1042", NOV).codes] == \
        [("99457", 1), ("99458", 2)]
    default = Service(ServiceContext(db, Policy(), clock))
    assert [(c.code, c.units) for c in default.months.summary("P-1042", NOV).codes] == \
        [("99457", 1), ("99458", 3)]


def test_month_edges_in_the_clinic_zone(seeded: Service, clock: FrozenClock) -> None:
    clock.now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    zone = seeded.ctx.policy.zone
    log(seeded, "10m", "call", started_at=datetime(2026, 10, 31, 23, 59, tzinfo=zone))
    log(seeded, "11m", "call", started_at=datetime(2026, 11, 1, 0, 0, tzinfo=zone))
    log(seeded, "12m", "call", started_at=datetime(2026, 11, 30, 23, 59, 59, tzinfo=zone))
    log(seeded, "13m", "call", started_at=datetime(2026, 10, 1, 0, 0, tzinfo=zone))
    # entries across clinic midnight are split (issue 11, item 7): 1 min of the 10 in October
    assert seeded.months.summary("P-1042", Month(2026, 10)).total_seconds == 14 * 60
    # November's 9 min share runs 00:00-00:09, inside the 11 min call from 00:00: counted once
    november = seeded.months.summary("P-1042", NOV)
    assert (november.total_seconds, november.not_counted_seconds) == (11 * 60 + 1, 9 * 60)
    assert seeded.months.summary("P-1042", Month(2026, 12)).total_seconds == 12 * 60 - 1


def test_dst_night_entries_count_once(seeded: Service) -> None:
    zone = seeded.ctx.policy.zone
    # 1 November 2026, 01:30 happens twice in New York; both are November
    log(seeded, "10m", "call", started_at=datetime(2026, 11, 1, 1, 30, tzinfo=zone, fold=0))
    log(seeded, "10m", "review", started_at=datetime(2026, 11, 1, 1, 30, tzinfo=zone, fold=1))
    summary = seeded.months.summary("P-1042", NOV)
    assert summary.total_seconds == 1200
    assert [c.code for c in summary.codes] == ["99457"]


def test_warnings_for_the_billing_office(seeded: Service) -> None:
    seeded.patients.add("P-NOCONSENT", PatientFields(enrolled_on=date(2026, 11, 1)), actor="t")
    seeded.patients.add("P-LATECONSENT", PatientFields(enrolled_on=date(2026, 11, 1),
                                                       consent_on=date(2026, 12, 2)), actor="t")
    report = {s.patient_id: s for s in seeded.months.report(NOV)}
    assert "no consent on file: do not bill until consent is recorded" in \
        report["P-NOCONSENT"].warnings
    assert "consent dated 2026-12-02, after this month" in report["P-LATECONSENT"].warnings
    assert seeded.months.summary("P-1042", Month(2026, 5)).warnings == \
        ("consent dated 2026-10-01, after this month", "not enrolled in 2026-05")
    assert report["P-1042"].warnings == (
        "no enrolment date and no time logged yet in 2026-11: in the programme since added "
        "on 2026-11-20; record the enrolment date",)
    seeded.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 6, 1)), actor="t")
    assert "not enrolled in 2026-05" in seeded.months.summary("P-1042", Month(2026, 5)).warnings


def test_current_month_is_the_clinic_month(db: Database) -> None:
    clock = FrozenClock(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # 22:00 on 30 Nov in New York
    svc = Service(ServiceContext(db, Policy(), clock))
    assert svc.months.current() == NOV
    assert svc.months.today() == date(2026, 11, 30)


def test_summary_json_shape(seeded: Service) -> None:
    log(seeded, "21m", "call")
    data = seeded.months.summary("P-1042").as_json()
    assert data["codes"] == [{"code": "99457", "units": 1}]
    for key in ("patient_id", "month", "total_seconds", "live_interactions", "codes",
                "seconds_to_next_code", "needs_live_interaction", "warnings"):
        assert key in data
    assert data["assigned_to"] == NURSE


def test_at_risk_list_is_worst_first_and_skips_done_patients(seeded: Service,
                                                             clock: FrozenClock) -> None:
    seeded.patients.add("P-DONE", PatientFields(enrolled_on=date(2026, 1, 1), assign=NURSE),
                        actor="t")
    seeded.patients.add("P-NOCALL", PatientFields(enrolled_on=date(2026, 1, 1), assign=NURSE),
                        actor="t")
    seeded.patients.add("P-OTHER", PatientFields(enrolled_on=date(2026, 1, 1), assign=DOCTOR),
                        actor="t")
    log(seeded, "20m", "call", patient="P-DONE", started_at=datetime(2026, 11, 2, tzinfo=UTC))
    log(seeded, "20m", "review", patient="P-NOCALL",
        started_at=datetime(2026, 11, 3, tzinfo=UTC))
    log(seeded, "12m", "review", started_at=datetime(2026, 11, 4, tzinfo=UTC))  # P-1042
    rows = seeded.months.at_risk(NOV, date(2026, 11, 28))
    assert [(r.summary.patient_id, r.risk.severity) for r in rows] == [
        ("P-OTHER", "critical"), ("P-1042", "critical"), ("P-NOCALL", "critical")]
    assert rows[1].risk.advice() == "needs 8 more minutes and a live call"
    mine = seeded.months.at_risk(NOV, date(2026, 11, 16), assigned_to=NURSE)
    assert [r.summary.patient_id for r in mine] == ["P-1042", "P-NOCALL"]
    assert [r.risk.severity for r in mine] == ["watch", "watch"]


def test_untouched_patients_without_enrolment_date_are_reported_and_at_risk(
    seeded: Service, clock: FrozenClock
) -> None:
    # P-1042 has no enrolment date and no entry: in the programme since it was added, so on
    # the report (nothing to bill) and at risk alike (issue 13 #3)
    assert [(s.patient_id, s.codes) for s in seeded.months.report(NOV)] == [("P-1042", ())]
    rows = seeded.months.at_risk(NOV, date(2026, 11, 20))
    assert [(r.summary.patient_id, r.summary.total_seconds) for r in rows] == [("P-1042", 0)]
    assert rows[0].risk.advice() == "needs 20 more minutes and a live call"
    # ended before the month, or added after it: not active in it
    seeded.patients.add("P-ENDED", PatientFields(ended_on=date(2026, 10, 31)), actor="t")
    assert "P-ENDED" not in [r.summary.patient_id for r in seeded.months.at_risk(NOV)]
    assert [r.summary.patient_id for r in seeded.months.at_risk(Month(2026, 10),
                                                                date(2026, 10, 20))] == []
    assert seeded.months.totals(NOV).at_risk == 1


def test_summary_in_runs_on_the_callers_core_transaction(seeded: Service) -> None:
    """`/rpm log` asks for the reply's summary inside its own write transaction (a Core
    connection): the same summary as a fresh read, and the caller's transaction goes on."""
    from store import patients as patient_rows

    log(seeded, "25m", "call", started_at=datetime(2026, 11, 2, 15, tzinfo=UTC))
    with seeded.ctx.db.write() as conn:
        patient = patient_rows.by_key(conn, "P-1042")
        assert patient is not None
        inside = seeded.months.summary_in(conn, NOV, patient.id)
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1  # still the caller's, open
    assert inside == seeded.months.summary("P-1042", NOV)
    assert inside.total_seconds == 1500
