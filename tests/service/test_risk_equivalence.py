"""The risk scan's SQL figures (store.month_risk) against billing.tally, on generated months.

store.month_risk states the counting rules a second time, in SQL, for the patients it marks
`exact`; billing.tally stays the truth. On 50 generated months per database (voided and
non-clinical entries, overlapping clock-timed entries of two staff, live calls either side of
the 30 s floor, windows and consent starting or ending mid-month or outside it, returning
patients with two or three enrolment episodes and gaps inside or around the month, entries
crossing the month's edges, fractional seconds), every exact patient's figures must equal the
tally's, and the at-risk list must equal the one the full tally path gives (same patients,
same order, same figures and verdicts).
"""

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

import store.month_totals
from billing.months import Month
from billing.tally import EntryTime
from service import Service
from store.month_reply import reply_figures
from store.month_risk import risk_figures
from store.month_totals import CLINIC, Scope, month_totals
from store.tables import enrolment_episodes, patients, staff, time_entries
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, NURSE, log, seed

NOV = Month(2026, 11)
ROLES = ("clinical_staff", "physician", "qhp", "non_clinical")
MONTHS = 50
REPLY_MONTHS = 12


def _day(rng: random.Random, month: Month) -> date | None:
    """A date before, inside (often near an edge) or after the month, or none."""
    roll = rng.random()
    if roll < 0.25:
        return None
    if roll < 0.55:
        return month.first_day - timedelta(days=rng.randrange(1, 60))
    if roll < 0.85:
        return month.first_day + timedelta(days=rng.choice((0, 1, 9, 14, 28, 29)))
    return month.last_day + timedelta(days=rng.randrange(1, 20))


def _episodes(rng: random.Random, month: Month) -> list[tuple[date | None, date | None]]:
    """A returning patient's episodes, oldest first, never overlapping: two or three, with
    gaps of a day or more, often inside the month (a gap mid-month, an end and a return in
    it), sometimes around it; the first may have no start, the last may be open."""
    day = month.first_day - timedelta(days=rng.choice((40, 20, 3, 0)))
    first: date | None = None if rng.random() < 0.2 else day
    spans: list[tuple[date | None, date | None]] = []
    for n in range(rng.choice((2, 2, 3))):
        ended = day + timedelta(days=rng.choice((0, 4, 9, 14, 30)))
        spans.append((first if n == 0 else day, ended))
        day = ended + timedelta(days=rng.choice((1, 2, 3, 6, 12)))
    if rng.random() < 0.6:
        spans[-1] = (spans[-1][0], None)
    return spans


def _instant(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """Near an edge of the month (crossing it), or anywhere around it; whole minutes mostly,
    fractional seconds sometimes (the tally floors per entry)."""
    roll = rng.random()
    if roll < 0.15:
        at = start - timedelta(minutes=rng.randrange(1, 40))
    elif roll < 0.25:
        at = end - timedelta(minutes=rng.randrange(1, 40))
    elif roll < 0.6:  # a few busy slots: clock-timed entries overlap there
        at = start + timedelta(days=rng.choice((3, 3, 10, 20)), hours=15,
                               minutes=rng.randrange(0, 20))
    else:
        at = start + (end - start + timedelta(days=2)) * rng.random() - timedelta(days=1)
    if rng.random() < 0.3:
        at += timedelta(microseconds=rng.randrange(1_000_000))
    return at.replace(microsecond=at.microsecond if rng.random() < 0.3 else 0)


def _seconds(rng: random.Random) -> timedelta:
    roll = rng.random()
    if roll < 0.3:
        return timedelta(seconds=rng.choice((29, 30, 31)), microseconds=rng.choice((0, 500_000)))
    return timedelta(seconds=rng.randrange(60, 1800), microseconds=rng.randrange(1_000_000)
                     if rng.random() < 0.3 else 0)


def _generate(conn: Any, rng: random.Random, month: Month, start: datetime, end: datetime,
              staff_pks: list[int], number: int) -> None:
    """One month of 14 patients and their entries, written straight into the tables."""
    made = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(14):
        enrolled, ended = _day(rng, month), _day(rng, month)
        if enrolled and ended and ended < enrolled:
            enrolled, ended = ended, enrolled
        created = made if rng.random() < 0.7 else end + timedelta(days=3)
        roll = rng.random()  # a returning patient; one episode on record; none (a bare row)
        episodes = (_episodes(rng, month) if roll < 0.3 else
                    [(enrolled, ended)] if roll < 0.65 else [])
        if episodes:  # the patient row repeats the latest episode
            enrolled, ended = episodes[-1]
        pk = conn.execute(insert(patients).values(
            clinic_id=f"G-{number}-{n:02d}", clinic_key=f"G-{number}-{n:02d}",
            initials=rng.choice(("AB", None)), consent_on=_day(rng, month), conditions=[],
            assigned_staff_id=rng.choice([*staff_pks, None]), enrolled_on=enrolled,
            ended_on=ended, created_at=created).returning(patients.c.id)).scalar_one()
        for started_on, ended_on in episodes:
            conn.execute(insert(enrolment_episodes).values(
                patient_id=pk, started_on=started_on, ended_on=ended_on, created_at=made,
                created_by="gen"))
        for _ in range(rng.randrange(0, 9)):
            began = _instant(rng, start, end)
            role = rng.choice(ROLES) if rng.random() < 0.4 else "clinical_staff"
            length = _seconds(rng)
            voided = rng.random() < 0.1
            conn.execute(insert(time_entries).values(
                patient_id=pk, staff_id=rng.choice(staff_pks), started_at=began,
                ended_at=began + length, duration_seconds=int(length.total_seconds()),
                activity="call", source="cli", live=rng.random() < 0.35, staff_role=role,
                clock_timed=rng.random() < 0.5, created_at=made, created_by="gen",
                voided_at=began + timedelta(hours=1) if voided else None,
                voided_by="gen" if voided else None, void_reason="typo" if voided else None))


def _figures(risk: Any) -> tuple[Any, ...]:
    s = risk.summary
    return (s.patient_id, s.initials, s.total_seconds, s.live_interactions, s.first_live_at,
            s.codes, s.entries, s.assigned_to, s.enrolled_on, s.ended_on, s.consent_on,
            s.in_programme, s.expected_amount, s.month_ended, risk.risk)


def _seeded(svc: Service) -> list[int]:
    """The service helpers' clinic; its staff ids, for the generated entries."""
    seed(svc)
    with svc.ctx.db.read() as conn:
        return [int(pk) for pk in conn.execute(select(staff.c.id)).scalars()]


def test_sql_figures_equal_the_tally_and_the_risk_list_equals_the_full_path(
        svc: Service) -> None:
    policy = svc.ctx.policy
    start, end = NOV.bounds_utc(policy.zone)
    staff_pks = _seeded(svc)
    exact = inexact = listed = returning = 0
    for number in range(MONTHS):
        rng = random.Random(number)
        with svc.ctx.db.write() as conn:
            conn.execute(delete(time_entries))
            conn.execute(delete(enrolment_episodes).where(enrolment_episodes.c.patient_id.in_(
                select(patients.c.id).where(patients.c.clinic_id.like("G-%")))))
            conn.execute(delete(patients).where(patients.c.clinic_id.like("G-%")))
            _generate(conn, rng, NOV, start, end, staff_pks, number)
        args = {"month": NOV, "zone": policy.zone,
                "min_live_seconds": policy.min_live_call_seconds}
        with svc.ctx.db.read() as conn:
            tallied = {t.patient_pk: t for t in month_totals(conn, scope=CLINIC, **args)}
            figures = list(risk_figures(conn, scope=CLINIC, page_size=5, **args))
        assert set(tallied) <= {f.patient_pk for f in figures}, number
        for f in figures:
            if not f.exact:
                inexact += 1
                continue
            exact += 1
            t = tallied[f.patient_pk]  # an exact patient is in the programme
            assert (f.counted_seconds, f.live_interactions, f.first_live_at, f.entries) == (
                t.counted_seconds, t.live_interactions, t.first_live_at, t.entries), (number, f)
        today = NOV.first_day + timedelta(days=rng.randrange(0, 30))
        old = [r for r in svc.months.with_risk(NOV, today) if r.risk.still_to_win]
        new = svc.months.at_risk(NOV, today)
        assert [_figures(r) for r in new] == [_figures(r) for r in old], number
        listed += len(new)
        returning += sum(1 for t in tallied.values()
                         if t.enrolment is not None and len(t.enrolment.in_month(NOV)) > 1)
    # the months exercised both paths (else the test could not fail for the right reason),
    # and months with two episodes in them
    assert exact > 100 and inexact > 50 and listed > 100, (exact, inexact, listed)
    assert returning > 30, returning


def test_a_caseload_scan_reads_only_the_caseload(svc: Service) -> None:
    """The caseload shape filters the entries in SQL too: the same figures as the clinic's."""
    policy = svc.ctx.policy
    staff_pks = _seeded(svc)
    with svc.ctx.db.write() as conn:
        _generate(conn, random.Random(7), NOV, *NOV.bounds_utc(policy.zone), staff_pks, 7)
    args = {"month": NOV, "zone": policy.zone, "min_live_seconds": policy.min_live_call_seconds,
            "page_size": 100}
    with svc.ctx.db.read() as conn:
        clinic = {f.patient_pk: f for f in risk_figures(conn, scope=CLINIC, **args)}
        mine = list(risk_figures(conn, scope=Scope(assigned_staff_pk=staff_pks[0]), **args))
        assigned = {int(pk) for pk, in conn.execute(select(patients.c.id).where(
            patients.c.assigned_staff_id == staff_pks[0]))}
    assert mine and {f.patient_pk for f in mine} <= assigned
    assert all(clinic[f.patient_pk] == f for f in mine)


def test_a_closed_month_lists_the_patients_billed_at_close_as_the_full_path_does(
        svc: Service, clock: FrozenClock) -> None:
    """A patient billed at the month's close and gone from its programme since (enrolment
    moved after the month) is still judged, as the report's scan shows them: the at-risk
    list equals the full path's, and that patient is on it (a day of its window is left)."""
    staff_pks = _seeded(svc)
    with svc.ctx.db.write() as conn:
        _generate(conn, random.Random(3), NOV, *NOV.bounds_utc(svc.ctx.policy.zone), staff_pks,
                  3)
        conn.execute(update(patients).values(  # an order on file: the close bills them
            ordering_provider_id=staff_pks[0], order_on=date(2026, 1, 1)))
    clock.advance(days=12)  # December: November can be closed
    svc.closes.close(NOV, by=ADMIN)
    billed = next(s for s in svc.months.report(NOV) if s.codes and s.enrolled_on)
    with svc.ctx.db.write() as conn:  # straight in the table: a service refuses to move it
        moved = conn.execute(update(patients).where(patients.c.clinic_id == billed.patient_id)
                             .values(enrolled_on=date(2026, 12, 5), ended_on=None)
                             .returning(patients.c.id)).scalar_one()
        conn.execute(delete(enrolment_episodes).where(  # the row's window is its only one
            enrolment_episodes.c.patient_id == moved))
    today = date(2026, 11, 20)
    old = [r for r in svc.months.with_risk(NOV, today) if r.risk.still_to_win]
    new = svc.months.at_risk(NOV, today)
    assert billed.patient_id in {r.summary.patient_id for r in new}
    assert [_figures(r) for r in new] == [_figures(r) for r in old]


def test_exact_patients_are_never_tallied_in_python(svc: Service,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the statement: a patient SQL states exactly reads no entry row and runs
    no billing.tally; one with overlapping clock-timed time still does."""
    seed(svc)  # P-1042: consent before the month, no enrolment date
    log(svc, "12m", "review", started_at=datetime(2026, 11, 4, 15, tzinfo=UTC))
    calls: list[int] = []
    real = store.month_totals.tally_month

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store.month_totals, "tally_month", counting)
    rows = svc.months.at_risk(NOV, date(2026, 11, 20))
    assert [(r.summary.patient_id, r.summary.total_seconds) for r in rows] == [("P-1042", 720)]
    assert calls == []
    for staff_id in (NURSE, ADMIN):  # the same 10 clock-timed minutes, two nurses
        log(svc, "10m", "review", staff=staff_id, clock_timed=True,
            started_at=datetime(2026, 11, 5, 15, tzinfo=UTC))
    calls.clear()  # a log's reply tallies its patient's month
    rows = svc.months.at_risk(NOV, date(2026, 11, 20))
    assert [(r.summary.patient_id, r.summary.total_seconds) for r in rows] == [("P-1042", 1320)]
    assert len(calls) == 1


def _reply_cases(conn: Any, rng: random.Random) -> None:
    """What the reply's warnings read besides the figures: entries flagged as overlapping
    another (as a log flags the same staff member's overlapping time; warned of while both
    stand and are clock-timed), and non-clinical entries ending 0.6 s past a second (their
    shares are summed before the floor)."""
    rows = list(conn.execute(select(time_entries.c.id, time_entries.c.ended_at)))
    ids = [int(pk) for pk, _ in rows]
    for pk, ended in rows:
        if rng.random() < 0.15:
            conn.execute(update(time_entries).where(time_entries.c.id == pk)
                         .values(overlaps_entry_id=rng.choice(ids)))
        if rng.random() < 0.2:
            conn.execute(update(time_entries).where(time_entries.c.id == pk).values(
                staff_role="non_clinical",
                ended_at=ended.replace(microsecond=0) + timedelta(microseconds=600_000)))


def _shown(summary: Any) -> Any:
    """The summary as a reply shows it: not the per-staff shares, live dates, per-entry
    counts or the non-clinical shares listed one by one (the reply says their sum)."""
    return replace(summary, staff=(), live_interaction_dates=(), not_counted=(),
                   entry_counts=())


def test_a_replys_sql_figures_equal_the_tally(svc: Service) -> None:
    """`/rpm log` and `/rpm status PATIENT` read the month's figures from one statement
    (store.month_reply) where it states them exactly: on generated months, for every
    patient (in the programme or not), the reply's summary equals the fully tallied one in
    everything a reply shows (figures, codes, still needed, warnings, close), and the logged
    entry's count (the live warning) equals the tally's."""
    policy = svc.ctx.policy
    start, end = NOV.bounds_utc(policy.zone)
    staff_pks = _seeded(svc)
    exact = inexact = counted = 0
    for number in range(REPLY_MONTHS):
        rng = random.Random(1000 + number)
        with svc.ctx.db.write() as conn:
            conn.execute(delete(time_entries))
            conn.execute(delete(enrolment_episodes).where(enrolment_episodes.c.patient_id.in_(
                select(patients.c.id).where(patients.c.clinic_id.like("G-%")))))
            conn.execute(delete(patients).where(patients.c.clinic_id.like("G-%")))
            _generate(conn, rng, NOV, start, end, staff_pks, number)
            _reply_cases(conn, rng)
        with svc.ctx.db.read() as conn:
            pks = [int(pk) for pk in conn.execute(select(patients.c.id)).scalars()]
            for pk in pks:
                figures = reply_figures(conn, month=NOV, zone=policy.zone,
                                        min_live_seconds=policy.min_live_call_seconds,
                                        scope=Scope(pk))
                assert figures is not None
                exact += figures.exact
                inexact += not figures.exact
                full = svc.months.summary_in(conn, NOV, pk)
                assert _shown(svc.months.reply_in(conn, NOV, pk)) == _shown(full), (number, pk)
                if not figures.exact:  # tallied in full: the same reply
                    continue
                rows = conn.execute(select(time_entries).where(
                    time_entries.c.patient_id == pk, time_entries.c.voided_at.is_(None),
                    time_entries.c.started_at >= start, time_entries.c.started_at < end))
                for row in rows:  # as if each had just been logged
                    entry = EntryTime(row.id, row.staff_id, row.staff_role, row.started_at,
                                      row.ended_at, row.live, row.clock_timed, False)
                    reply = svc.months.reply_in(conn, NOV, pk, entry)
                    assert reply.entry_count(row.id) == full.entry_count(row.id), (number, row)
                    counted += 1
        key = svc.months.summary(f"G-{number}-03", NOV, reply=True)  # by clinic id
        assert _shown(key) == _shown(svc.months.summary(f"G-{number}-03", NOV))
    # both paths ran, and the exact one on entries of their own
    assert exact > 25 and inexact > 60 and counted > 35, (exact, inexact, counted)
