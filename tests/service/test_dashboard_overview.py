"""The dashboard's month page reads the month once (issue 14): its rows and its code chart
come from one scan, and say what `rows` and `code_series` say on their own."""

from datetime import UTC, date, datetime

import pytest

from billing.months import Month
from service import Service
from service.patients import PatientFields
from tests.service.helpers import DOCTOR, NURSE, log, seed
from tests.service.test_month_statements import counted

NOV = Month(2026, 11)


@pytest.fixture
def clinic(svc: Service) -> Service:
    seed(svc)
    log(svc, "25m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    svc.patients.add("P-2001", PatientFields(initials="AB", assign=DOCTOR,
                                             enrolled_on=date(2026, 1, 1),
                                             consent_on=date(2026, 9, 1)), actor="t")
    log(svc, "12m", "call", patient="P-2001", staff=DOCTOR,
        started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    svc.patients.add("P-2002", PatientFields(initials="CK", assign=NURSE), actor="t")
    log(svc, "5m", patient="P-2002", started_at=datetime(2026, 11, 18, 15, tzinfo=UTC))
    svc.patients.add("P-OLD", PatientFields(initials="OL", assign=NURSE,
                                            enrolled_on=date(2026, 1, 1),
                                            ended_on=date(2026, 10, 31)), actor="t")
    return svc


@pytest.mark.parametrize("staff", [None, NURSE, DOCTOR, "U09NOBODY"])
def test_overview_is_rows_and_series_from_one_scan(clinic: Service, staff: str | None) -> None:
    with counted(clinic) as statements:
        overview = clinic.dashboard.overview(NOV, assigned_to=staff)
    scans = [s for s in statements if "time_entries" in s and "patients" in s]
    assert len(scans) == 1
    assert overview.rows == clinic.dashboard.rows(NOV, assigned_to=staff)
    assert overview.series == clinic.dashboard.code_series(NOV)
    assert len(overview.series.days) == 20  # the frozen clock's 20 November


def test_code_series_reads_the_month_once(clinic: Service) -> None:
    with counted(clinic) as statements:
        series = clinic.dashboard.code_series(NOV)
    assert len([s for s in statements if "time_entries" in s and "patients" in s]) == 1
    assert series.patients == 3
