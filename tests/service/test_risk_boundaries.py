"""The at-risk list near every counting boundary (its figures come from SQL, store.month_risk).

Each patient below sits just on the wrong side of one counting rule with >= 20 logged minutes
and a live call: the at-risk list must still report every one, on SQLite and PostgreSQL, and
the safe patients beside them must not be listed; SQL's figures for the exact ones equal the
full tally's (tests/service/test_risk_equivalence.py does the same on generated months).
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from billing.months import Month
from service import Service
from service.patients import PatientFields
from store.month_risk import risk_figures
from store.month_totals import CLINIC
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, CLERK, NURSE, log, seed

NOV = Month(2026, 11)
TODAY = date(2026, 11, 14)  # every window below has a day left
COVERED = {"enrolled_on": date(2026, 1, 1), "consent_on": date(2026, 1, 1)}


def _at(day: int, hour: int = 15, minute: int = 0) -> datetime:
    """An instant in November 2026 (UTC; 15:00 is 10:00 in New York)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _patient(svc: Service, clinic_id: str, **fields: object) -> str:
    values = {**COVERED, **fields}
    svc.patients.add(clinic_id, PatientFields(assign=NURSE, **values),  # type: ignore[arg-type]
                     actor="t")
    return clinic_id


def _change(svc: Service, clinic_id: str, **fields: object) -> None:
    svc.patients.update(clinic_id, PatientFields(**fields), actor="t")  # type: ignore[arg-type]


def _live_call(svc: Service, patient: str, minutes: int = 1, start: datetime | None = None,
               **extra: object) -> int:
    return log(svc, f"{minutes}m", "call", patient=patient, live=True,
               started_at=start or _at(3), **extra)


def _review(svc: Service, patient: str, duration: str, start: datetime, **extra: object) -> int:
    return log(svc, duration, "review", patient=patient, started_at=start, clock_timed=False,
               **extra)


def _build(svc: Service) -> tuple[set[str], set[str]]:
    """(patients at risk, patients certainly safe) by clinic id."""
    risky, safe = set(), set()
    # safe: 19 untimed minutes and an untimed 1-minute live call: exactly 20 minutes, live
    safe.add(_patient(svc, "S-EXACT"))
    _review(svc, "S-EXACT", "19m", _at(5))
    _live_call(svc, "S-EXACT", clock_timed=False)
    # safe: one clock-timed 25-minute live call alone (the longest timed entry, less 1 s)
    safe.add(_patient(svc, "S-CALL"))
    _live_call(svc, "S-CALL", 25)

    # a second short of 20 minutes, with a live call
    risky.add(_patient(svc, "R-1199"))
    _review(svc, "R-1199", "18m 59s", _at(5))
    _live_call(svc, "R-1199", start=_at(6), clock_timed=False)
    # voided: 21 minutes logged, 2 of them voided
    risky.add(_patient(svc, "R-VOID"))
    _review(svc, "R-VOID", "18m", _at(5))
    extra = _review(svc, "R-VOID", "2m", _at(6))
    svc.entries.void(extra, reason="typo", by=NURSE)
    _live_call(svc, "R-VOID")
    # enrolled mid-month: time before the window does not count
    # (the dates below are changed after the time is logged: a log outside them is refused)
    risky.add(_patient(svc, "R-WINDOW"))
    _review(svc, "R-WINDOW", "30m", _at(5))
    _live_call(svc, "R-WINDOW", start=_at(12))
    _change(svc, "R-WINDOW", enrolled_on=date(2026, 11, 10))
    # ended mid-month: time after the window does not count
    risky.add(_patient(svc, "R-ENDED"))
    _review(svc, "R-ENDED", "10m", _at(5))
    _live_call(svc, "R-ENDED", 15, start=_at(16))  # after the window: neither time nor live
    _change(svc, "R-ENDED", ended_on=date(2026, 11, 15))
    # consent given mid-month: time before it does not count
    risky.add(_patient(svc, "R-CONSENT"))
    _review(svc, "R-CONSENT", "30m", _at(5))
    _live_call(svc, "R-CONSENT", start=_at(12))
    _change(svc, "R-CONSENT", consent_on=date(2026, 11, 10))
    # two clock-timed 12-minute entries of two nurses at the same time: 12 minutes count
    risky.add(_patient(svc, "R-OVERLAP"))
    log(svc, "12m", "review", patient="R-OVERLAP", started_at=_at(5))
    log(svc, "12m", "review", patient="R-OVERLAP", started_at=_at(5), staff=ADMIN)
    _live_call(svc, "R-OVERLAP", start=_at(6))
    # non-clinical time never counts
    risky.add(_patient(svc, "R-CLERK"))
    _review(svc, "R-CLERK", "30m", _at(5), staff=CLERK)
    _live_call(svc, "R-CLERK")
    # a live call under MIN_LIVE_CALL_SECONDS (30 s) is not a live interaction
    risky.add(_patient(svc, "R-SHORT"))
    _review(svc, "R-SHORT", "25m", _at(5))
    log(svc, "29s", "call", patient="R-SHORT", live=True, started_at=_at(6))
    # a live call by non-clinical staff is not a live interaction
    risky.add(_patient(svc, "R-CLERKCALL"))
    _review(svc, "R-CLERKCALL", "25m", _at(5))
    _live_call(svc, "R-CLERKCALL", 5, staff=CLERK)
    # a live call that started in October: its interaction counts there; 10 of its 15
    # minutes fall in November, plus 5 more
    risky.add(_patient(svc, "R-OCTOBER"))
    start = NOV.bounds_utc(svc.ctx.policy.zone)[0] - timedelta(minutes=5)
    _live_call(svc, "R-OCTOBER", 15, start=start)
    _review(svc, "R-OCTOBER", "15m", _at(5))
    return risky, safe


@pytest.fixture
def built(svc: Service) -> tuple[Service, set[str], set[str]]:
    seed(svc)
    risky, safe = _build(svc)
    return svc, risky, safe


def test_every_patient_near_a_counting_boundary_is_reported(
        built: tuple[Service, set[str], set[str]]) -> None:
    svc, risky, safe = built
    listed = {r.summary.patient_id for r in svc.months.at_risk(NOV, TODAY)}
    assert risky <= listed
    assert not safe & listed
    # the full scan (no pre-filter) gives the same verdicts, row for row
    full = {r.summary.patient_id: r.risk for r in svc.months.with_risk(NOV, TODAY)}
    assert listed == {pid for pid, risk in full.items() if risk.still_to_win}
    assert {pid for pid in safe if full[pid].at_risk} == set()
    for row in svc.months.at_risk(NOV, TODAY):
        assert row.risk == full[row.summary.patient_id]


def test_sql_figures_put_the_safe_patients_over_the_line_and_no_boundary_patient(
        built: tuple[Service, set[str], set[str]]) -> None:
    svc, risky, safe = built
    policy = svc.ctx.policy
    with svc.ctx.db.read() as conn:
        figures = {f.patient_id: f for f in risk_figures(
            conn, month=NOV, zone=policy.zone, min_live_seconds=policy.min_live_call_seconds,
            scope=CLINIC, page_size=100)}
    over = {pid for pid, f in figures.items()
            if f.exact and f.counted_seconds >= 1200 and f.live_interactions}
    assert over == safe
    assert figures["R-1199"].exact and figures["R-1199"].counted_seconds == 1199
    assert not figures["R-OVERLAP"].exact  # two clock-timed entries at once: the full tally


def test_a_closed_month_still_lists_only_patients_at_risk(
        built: tuple[Service, set[str], set[str]], clock: FrozenClock) -> None:
    """With a close on record, the scan tells the patients it left out (safe) from billed
    patients gone from the month: the safe ones billed at close are not listed."""
    svc, risky, safe = built
    before = [(r.summary.patient_id, r.risk) for r in svc.months.at_risk(NOV, TODAY)]
    clock.advance(days=12)  # December: November can be closed
    svc.closes.close(NOV, by=ADMIN)
    after = [(r.summary.patient_id, r.risk) for r in svc.months.at_risk(NOV, TODAY)]
    assert after == before
