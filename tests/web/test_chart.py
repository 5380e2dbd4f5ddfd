"""The month chart: the month tally day by day, the pure 'which code on which day', the SVG."""

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.dashboard import CodeSeries, PatientDayTotals, codes_by_day, day_by_day
from service.patients import PatientFields
from tests.conftest import FrozenClock
from tests.service.helpers import CLERK, NURSE, log, seed
from tests.web.support import TOKEN, Page, seed_month
from web.chart import svg

NOV = Month(2026, 11)
NOV_2025 = Month(2025, 11)  # before 99470 existed


def _day(pid: str, day: int, minutes: float, live: int = 0) -> PatientDayTotals:
    return PatientDayTotals(pid, day, int(minutes * 60), live)


# (month, days shown, per-day rows, patients, cap) -> (99470, 99457, 99458) per day
CASES = [
    pytest.param(NOV, 5, [_day("A", 2, 12, live=1), _day("A", 4, 9)], ["A"], 2,
                 ((0, 1, 1, 0, 0), (0, 0, 0, 1, 1), (0, 0, 0, 0, 0)), id="99470-then-99457"),
    pytest.param(NOV, 4, [_day("A", 1, 25), _day("A", 3, 1, live=1)], ["A"], 2,
                 ((0, 0, 0, 0), (0, 0, 1, 1), (0, 0, 0, 0)), id="no-code-before-live"),
    pytest.param(NOV_2025, 3, [_day("A", 1, 15, live=1)], ["A"], 2,
                 ((0, 0, 0), (0, 0, 0), (0, 0, 0)), id="no-99470-before-2026"),
    pytest.param(NOV, 3, [_day("A", 1, 20, live=1), _day("A", 2, 20), _day("A", 3, 20)],
                 ["A"], 2, ((0, 0, 0), (1, 1, 1), (0, 1, 1)), id="99458-from-40-min"),
    pytest.param(NOV, 2, [_day("A", 1, 45, live=1)], ["A"], 0,
                 ((0, 0), (1, 1), (0, 0)), id="99458-capped-at-0"),
    pytest.param(NOV, 2, [_day("A", 1, 10, live=1), _day("B", 1, 19, live=2),
                          _day("B", 2, 1), _day("GONE", 1, 60, live=1)], ["A", "B", "C"], 2,
                 ((2, 1), (0, 1), (0, 0)), id="several-patients-only-enrolled-ones"),
    pytest.param(NOV, 2, [_day("A", 1, 9.99, live=1)], ["A"], 2,
                 ((0, 0), (0, 0), (0, 0)), id="seconds-never-rounded-up"),
    pytest.param(NOV, 0, [_day("A", 1, 30, live=1)], ["A"], 2, ((), (), ()), id="no-days-yet"),
]


@pytest.mark.parametrize(("month", "days", "rows", "patients", "cap", "expected"), CASES)
def test_codes_by_day(month: Month, days: int, rows: list[PatientDayTotals],
                      patients: list[str], cap: int,
                      expected: tuple[tuple[int, ...], ...]) -> None:
    series = codes_by_day(month, days, rows, patients, max_add_on_units=cap)
    assert (series.at_99470, series.at_99457, series.with_99458) == expected
    assert series.days == tuple(range(1, days + 1))
    assert series.patients == len(set(patients))


def test_days_follow_the_month_tally(svc: Service, clock: FrozenClock) -> None:
    """Issue 13 #3: each day adds what the report's tally counts: clinic days, counted roles,
    voids, an entry across midnight split, clock-timed overlap once, the window and consent."""
    clock.now = datetime(2026, 12, 5, 15, tzinfo=UTC)
    seed(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="test")
    log(svc, "5m", "call", started_at=datetime(2026, 11, 1, 3, 30, tzinfo=UTC))  # Oct 31 EDT
    log(svc, "6m", "call", started_at=datetime(2026, 11, 2, 4, 30, tzinfo=UTC))  # Nov 1 23:30
    log(svc, "20m", started_at=datetime(2026, 11, 2, 4, 50, tzinfo=UTC))  # 23:50 -> 00:10
    log(svc, "10m", started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))  # 10:00-10:10
    log(svc, "10m", started_at=datetime(2026, 11, 5, 15, 5, tzinfo=UTC))  # overlaps 5 min
    log(svc, "9m", started_at=datetime(2026, 11, 6, 4, 45, tzinfo=UTC), staff=CLERK)
    voided = log(svc, "10m", started_at=datetime(2026, 11, 6, 14, tzinfo=UTC))
    svc.entries.void(voided, reason="duplicate", by=NURSE)
    log(svc, "11m", "call", started_at=datetime(2026, 12, 1, 4, 48, tzinfo=UTC))  # Nov 30 23:48
    svc.patients.add("P-2", PatientFields(initials="EN", consent_on=date(2026, 10, 1)),
                     actor="test")
    log(svc, "10m", "call", patient="P-2", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC))
    log(svc, "15m", patient="P-2", started_at=datetime(2026, 11, 20, 15, tzinfo=UTC))
    svc.patients.update("P-2", PatientFields(ended_on=date(2026, 11, 10)), actor="test")
    svc.patients.add("P-3", PatientFields(initials="CO", consent_on=date(2026, 11, 15)),
                     actor="test")
    log(svc, "10m", patient="P-3", started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    log(svc, "10m", patient="P-3", started_at=datetime(2026, 11, 16, 15, tzinfo=UTC))
    rows = day_by_day(svc.months.running_totals(NOV))
    assert rows == [
        PatientDayTotals("P-1042", 1, 360 + 600, 1),
        PatientDayTotals("P-1042", 2, 600, 0),
        PatientDayTotals("P-1042", 5, 900, 0),
        PatientDayTotals("P-1042", 30, 660, 1),
        PatientDayTotals("P-2", 3, 600, 1),
        PatientDayTotals("P-3", 16, 600, 0),
    ]
    report = {s.patient_id: s for s in svc.months.report(NOV)}
    added = {pid: sum(r.counted_seconds for r in rows if r.patient_id == pid) for pid in report}
    assert added == {pid: s.total_seconds for pid, s in report.items()}
    # the chart's last day is the report: P-2's time after the window ended never reads 99457
    series = svc.dashboard.code_series(NOV)
    assert (series.at_99470[-1], series.at_99457[-1], series.with_99458[-1]) == tuple(
        sum(1 for s in report.values() if any(c.code == code for c in s.codes))
        for code in ("99470", "99457", "99458")) == (1, 1, 1)


def test_the_last_day_of_a_finished_month_matches_the_report(svc: Service,
                                                             clock: FrozenClock) -> None:
    seed_month(svc)
    clock.now = datetime(2026, 12, 3, 15, tzinfo=UTC)
    series = svc.dashboard.code_series(NOV)
    report = svc.months.report(NOV)
    assert series.days == tuple(range(1, 31)) and series.patients == len(report) == 4
    last = (series.at_99470[-1], series.at_99457[-1], series.with_99458[-1])
    assert last == (
        sum(1 for s in report if any(c.code == "99470" for c in s.codes)),
        sum(1 for s in report if any(c.code == "99457" for c in s.codes)),
        sum(1 for s in report if any(c.code == "99458" for c in s.codes)),
    ) == (0, 2, 1)
    # P-1042: 12 min live on the 3rd (99470), 21 min on the 10th (99457);
    # P-2001: 25 min live on the 5th (99457), 47 min on the 15th (99458)
    assert series.at_99470[1:4] == (0, 1, 1) and series.at_99470[9] == 0
    assert series.at_99457[3:5] == (0, 1) and series.at_99457[9] == 2
    assert series.with_99458[13:15] == (0, 1)


def test_the_current_month_stops_at_today(svc: Service) -> None:
    seed_month(svc)  # the clock is 2026-11-20 in New York
    series = svc.dashboard.code_series()
    assert series.days == tuple(range(1, 21)) and len(series.at_99457) == 20
    assert svc.dashboard.code_series(Month(2026, 12)).days == ()


def test_svg_carries_the_series_axes_and_legend() -> None:
    data = CodeSeries((1, 2, 3), 2, (0, 1, 0), (0, 0, 1), (0, 0, 0))
    page = Page(svg(data, 30, "Codes <November>"))
    chart = page.one("svg")
    assert chart.attrs["data-patients"] == "2" and chart.attrs["data-days"] == "3"
    groups = {g.attrs["data-code"]: g.attrs["data-counts"] for g in page.find("g")}
    assert groups == {"99470": "0,1,0", "99457": "0,0,1", "99458": "0,0,0"}
    assert len(page.find("polyline")) == 3
    texts = [t.content for t in page.find("text")]
    assert {"1", "5", "30", "0", "2", "day of the month", "patients"} <= set(texts)
    assert "99457 + 99458 (40+ min)" in texts
    assert page.one("title").content == "Codes <November>"  # escaped in the markup
    assert "<November>" not in svg(data, 30, "Codes <November>")


def test_chart_is_inline_in_the_month_page(svc: Service) -> None:
    seed_month(svc)
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=svc)) as client:
        text = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).text
    page = Page(text)
    series = svc.dashboard.code_series()
    counts = {g.attrs["data-code"]: g.attrs["data-counts"] for g in page.find("g")}
    assert counts["99457"] == ",".join(str(c) for c in series.at_99457)
    assert "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text
