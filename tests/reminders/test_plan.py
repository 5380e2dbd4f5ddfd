"""Who is told what on which day: the at-risk table through the planner, month edges, zones."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from service import Policy, Service, ServiceContext
from service.reminders import ReminderOptions
from store.models import ReminderClaim
from tests.conftest import FrozenClock
from tests.reminders.helpers import CHANNEL_ID, DOCTOR, NINE_AM_15TH, NURSE, OPTIONS


def _lines(svc: Service, day: date | None = None, options: ReminderOptions = OPTIONS,
           ) -> list[tuple[str, str, list[tuple[str, str, int, bool, int, str]]]]:
    plan = svc.reminders.plan(day, options)
    return [(m.kind, m.recipient, [
        (r.summary.label, r.risk.severity, r.summary.total_seconds // 60,
         r.summary.live_interactions > 0, r.risk.days_left, r.risk.advice())
        for r in m.patients]) for m in plan.messages]


def test_the_15th_tells_each_staff_member_their_at_risk_patients_worst_first(
    clinic: Service,
) -> None:
    assert _lines(clinic) == [
        ("dm", NURSE, [
            ("P-2 (CD)", "critical", 0, False, 3, "needs 20 more minutes and a live call"),
            ("P-1 (AB)", "watch", 12, False, 16, "needs 8 more minutes and a live call"),
        ]),
        ("dm", DOCTOR, [
            ("P-7 (MN)", "high", 0, False, 6, "needs 20 more minutes and a live call"),
            ("P-4 (GH)", "watch", 20, False, 16, "needs a live call"),
        ]),
        # unassigned, and assigned to a staff member who is no longer active
        ("channel", CHANNEL_ID, [
            ("P-6 (KL)", "watch", 0, False, 16, "needs 20 more minutes and a live call"),
            ("P-5 (IJ)", "watch", 5, True, 16, "needs 15 more minutes"),
        ]),
    ]
    plan = clinic.reminders.plan(None, OPTIONS)
    assert plan.day == date(2026, 11, 15) and plan.month == "2026-11"
    assert plan.messages[-1].counts == {"critical": 1, "high": 1, "watch": 4}
    # CALM (P-3 on track) and GONE (inactive) get nothing; P-8's window is over
    assert plan.skipped is None and plan.notes == ()


def test_without_a_channel_only_dms_and_a_note_about_the_unassigned(clinic: Service) -> None:
    plan = clinic.reminders.plan(None, ReminderOptions())
    assert [(m.kind, m.recipient) for m in plan.messages] == [("dm", NURSE), ("dm", DOCTOR)]
    assert plan.notes == ("2 at-risk patient(s) have no active assigned staff member and "
                          "REMINDER_CHANNEL is not set: nobody is told about them",)


@pytest.mark.parametrize(("day", "planned"), [
    (date(2026, 11, 1), False), (date(2026, 11, 14), False), (date(2026, 11, 15), True),
    (date(2026, 11, 30), True),
])
def test_nothing_before_the_start_day(clinic: Service, day: date, planned: bool) -> None:
    plan = clinic.reminders.plan(day, OPTIONS)
    assert bool(plan.messages) is planned
    assert (plan.skipped is None) is planned
    if not planned:
        assert plan.skipped == f"{day} is before the start day (15): no reminders"


def test_start_day_is_configurable(clinic: Service) -> None:
    plan = clinic.reminders.plan(date(2026, 11, 14), ReminderOptions(start_day=14))
    assert [m.recipient for m in plan.messages] == [NURSE, DOCTOR]
    # 31 means "the last day": November's 30th still gets its reminders
    last = ReminderOptions(start_day=31)
    assert clinic.reminders.plan(date(2026, 11, 29), last).skipped == (
        "2026-11-29 is before the start day (30): no reminders")
    assert [m.recipient for m in clinic.reminders.plan(date(2026, 11, 30), last).messages] == [
        NURSE, DOCTOR]


def test_the_last_day_of_the_month_makes_everything_missing_critical(clinic: Service) -> None:
    lines = _lines(clinic, date(2026, 11, 30))
    assert lines[0] == ("dm", NURSE, [
        ("P-1 (AB)", "critical", 12, False, 1, "needs 8 more minutes and a live call")])
    assert lines[1] == ("dm", DOCTOR, [("P-4 (GH)", "critical", 20, False, 1, "needs a live call")])
    # P-2 and P-7 ended earlier in the month: their windows are over, nobody is nagged
    assert [r[0] for r in lines[2][2]] == ["P-6 (KL)", "P-5 (IJ)"]


def test_the_next_month_judges_the_new_month(clinic: Service, clock: FrozenClock) -> None:
    """15 December judges December: November's gaps are history."""
    clock.now = datetime(2026, 12, 15, 14, tzinfo=UTC)
    plan = clinic.reminders.plan(None, OPTIONS)
    assert plan.month == "2026-12"
    # in December nobody has any time yet: every open patient is at risk
    assert [r.summary.patient_id for r in plan.messages[0].patients] == ["P-1"]
    assert plan.messages[-1].counts == {"critical": 0, "high": 0, "watch": 5}


@pytest.mark.parametrize(("utc", "zone", "day", "due"), [
    # 09:00 on the 15th in New York is 14:00 UTC (EST)
    (datetime(2026, 11, 15, 13, 59), "America/New_York", date(2026, 11, 15), False),
    (datetime(2026, 11, 15, 14, 0), "America/New_York", date(2026, 11, 15), True),
    # 04:00 UTC on the 15th is still the 14th in New York: before the start day
    (datetime(2026, 11, 15, 4, 0), "America/New_York", date(2026, 11, 14), False),
    # the same instant in a UTC clinic is 04:00 on the 15th: before 09:00
    (datetime(2026, 11, 15, 4, 0), "UTC", date(2026, 11, 15), False),
    (datetime(2026, 11, 15, 9, 0), "UTC", date(2026, 11, 15), True),
    # 03:00 UTC on 1 December is 22:00 on 30 November in New York: the month's last day
    (datetime(2026, 12, 1, 3, 0), "America/New_York", date(2026, 11, 30), True),
    (datetime(2026, 12, 1, 3, 0), "UTC", date(2026, 12, 1), False),
    # summer: 09:00 EDT is 13:00 UTC
    (datetime(2026, 6, 15, 13, 0), "America/New_York", date(2026, 6, 15), True),
    (datetime(2026, 6, 15, 12, 59), "America/New_York", date(2026, 6, 15), False),
])
def test_due_follows_the_clinic_clock(svc: Service, clock: FrozenClock, utc: datetime,
                                      zone: str, day: date, due: bool) -> None:
    """Due needs no patients: only the clinic's clock and today's claims."""
    zoned = Service(ServiceContext(svc.ctx.db, Policy(zone=ZoneInfo(zone)), clock))
    clock.now = utc.replace(tzinfo=UTC)
    assert zoned.reminders.today() == day
    assert zoned.reminders.due(ReminderOptions(send_time=time(9, 0))) == (day if due else None)


def test_preview_writes_nothing(clinic: Service) -> None:
    run = clinic.reminders.preview(None, OPTIONS)
    assert run.dry_run and [o.status for o in run.outcomes] == ["planned"] * 3
    assert clinic.reminders.due(OPTIONS) == NINE_AM_15TH.date()
    with clinic.ctx.db.read_session() as session:
        assert session.exec(select(ReminderClaim)).all() == []


def test_a_dm_title_agrees_with_its_count() -> None:
    from reminders.messages import title
    from service.reminders import DM, PlannedMessage

    one = PlannedMessage(DM, NURSE, date(2026, 11, 15), "2026-11", (object(),))  # type: ignore[arg-type]
    assert title(one) == "RPM: 1 patient needs time this month"
    two = PlannedMessage(DM, NURSE, date(2026, 11, 15), "2026-11", (object(), object()))  # type: ignore[arg-type]
    assert title(two) == "RPM: 2 patients need time this month"
