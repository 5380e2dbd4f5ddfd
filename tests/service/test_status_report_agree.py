"""Issue 11 item 3: status and report give the same codes and dollars for every patient and
month, over generated histories (entries, then a window and consent set after the work), on
SQLite and PostgreSQL. Bounded: at most 40 examples, each a new patient in one database."""

from datetime import UTC, date, datetime, timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.months import Month
from service import Service
from service.entries import LogRequest
from service.patients import PatientFields
from tests.conftest import FrozenClock
from tests.service.helpers import CLERK, DOCTOR, NURSE, seed

MONTHS = (Month(2026, 9), Month(2026, 10), Month(2026, 11))
FIRST_DAY = date(2026, 9, 20)
DAYS = 50  # to 8 November
_ids = count(1)

entry_strategy = st.fixed_dictionaries({
    "day": st.integers(0, DAYS),
    "minute": st.sampled_from([0, 10, 600, 1430, 1435]),  # 23:50 and 23:55 cross midnight
    "seconds": st.sampled_from([20, 29, 30, 300, 600, 1200, 1500]),
    "activity": st.sampled_from(["call", "review"]),
    "staff": st.sampled_from([NURSE, DOCTOR, CLERK]),
    "timed": st.booleans(),
})
optional_day = st.none() | st.integers(0, DAYS)


def _day(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(entries=st.lists(entry_strategy, max_size=5), enrolled=optional_day,
       ended=optional_day, consent=optional_day)
def test_status_and_report_agree(svc: Service, clock: FrozenClock, entries: list[dict],
                                 enrolled: int | None, ended: int | None,
                                 consent: int | None) -> None:
    clock.now = datetime(2026, 12, 15, 12, tzinfo=UTC)
    if not svc.staff.list():
        seed(svc)
    patient = f"P-H{next(_ids)}"
    svc.patients.add(patient, PatientFields(), actor="test")
    zone = svc.ctx.policy.zone
    for spec in entries:
        start = datetime.combine(_day(spec["day"]), datetime.min.time(), tzinfo=zone) + \
            timedelta(minutes=spec["minute"])
        svc.entries.log(LogRequest(patient=patient, duration=f"{spec['seconds']}s",
                                   activity=spec["activity"], staff=spec["staff"],
                                   source="cli", started_at=start, clock_timed=spec["timed"]))
    if ended is not None and enrolled is not None and ended < enrolled:
        enrolled, ended = ended, enrolled
    svc.patients.update(patient, PatientFields(
        enrolled_on=_day(enrolled) if enrolled is not None else None,
        ended_on=_day(ended) if ended is not None else None,
        consent_on=_day(consent) if consent is not None else None), actor="test")
    for month in MONTHS:
        status = svc.months.summary(patient, month)
        row = {s.patient_id: s for s in svc.months.report(month)}.get(patient)
        if row is None:
            assert (status.codes, status.expected_amount) == ((), 0), (month, status)
        else:
            assert (status.codes, status.expected_amount, status.total_seconds) == \
                (row.codes, row.expected_amount, row.total_seconds), month
