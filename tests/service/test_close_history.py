"""A closed month never changes silently: each close records what every patient's month
supported, every close and reopen is kept, and the month shows billed at close vs now."""

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alembic import command
from sqlmodel import select

from billing.months import Month
from presentation import render
from service import Service, ServiceContext
from service.closes import Amendment
from service.errors import BadInput
from service.patients import PatientFields
from store.migrate import alembic_config, upgrade_to_head
from store.models import AuditEvent, MonthCloseEvent
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, DOCTOR, NURSE, log, seed

OCT = Month(2026, 10)
IN_OCTOBER = datetime(2026, 10, 20, 15, tzinfo=UTC)


@pytest.fixture
def seeded(svc: Service) -> Service:
    seed(svc)
    return svc


def _void_amended(svc: Service, entry_id: int, why: str = "wrong patient") -> None:
    svc.ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
    svc.entries.void(entry_id, reason=why, by=ADMIN, amendment=Amendment(reason=why, by=ADMIN))


def _october_99457(svc: Service) -> int:
    """12 min call + 10 min review in October: 99457; returns the review's id."""
    log(svc, "12m", "call", started_at=IN_OCTOBER)
    return log(svc, "10m", "review", started_at=datetime(2026, 10, 21, 15, tzinfo=UTC))


def test_a_void_after_close_shows_billed_vs_now_cause_and_refund(seeded: Service) -> None:
    review = _october_99457(seeded)
    closed = seeded.closes.close(OCT, by="cli:billing")
    assert (closed.patients, closed.billable, closed.units) == (1, 1, {"99457": 1})
    assert closed.amount == Decimal("52.00")
    _void_amended(seeded, review)

    row = seeded.months.report(OCT)[0]
    assert [c.code for c in row.codes] == ["99470"]
    billed = row.billed_at_close
    assert billed is not None and billed.differs and billed.record == "at_close"
    assert billed.codes_text == "99457"
    assert billed.cause == f"amendment: #{review} voided after close (wrong patient)"
    assert billed.follow_up == ("corrected claim replacing 99457 with 99470; "
                                "refund owed $26.00")
    data = row.as_json()["billed_at_close"]
    assert (data["codes_text"], data["differs"], data["amount_delta"]) == ("99457", True, -26.0)

    csv_row = next(csv.DictReader(io.StringIO(render.report_csv([row]))))
    assert csv_row["billed_at_close"] == "99457"
    assert "refund owed $26.00" in csv_row["since_close"]
    assert "wrong patient" in csv_row["since_close"]

    totals = seeded.months.totals(OCT)
    assert [(d.patient, d.billed, d.supported) for d in totals.changed_since_close] == [
        ("P-1042 (JD)", "99457", "99470")]
    summary = render.totals_text(totals)
    assert "P-1042 (JD): billed 99457 at close, supports 99470 now" in summary
    assert "refund owed $26.00" in summary
    table = render.report_table([row], totals)
    assert "billed 99457 at close" in table


def test_an_unchanged_month_shows_no_difference(seeded: Service) -> None:
    _october_99457(seeded)
    seeded.closes.close(OCT, by="cli:billing")
    row = seeded.months.report(OCT)[0]
    assert row.billed_at_close is not None and not row.billed_at_close.differs
    assert seeded.months.totals(OCT).changed_since_close == ()
    assert "Changed since close" not in render.totals_text(seeded.months.totals(OCT))


def test_a_setting_change_after_close_is_named_as_the_cause(seeded: Service,
                                                            clock: FrozenClock) -> None:
    log(seeded, "65m", "call", started_at=IN_OCTOBER)  # 99457 + 99458x2
    seeded.closes.close(OCT, by="cli:billing")
    stricter = Service(ServiceContext(seeded.ctx.db, replace(seeded.ctx.policy,
                                                             max_99458_units=1), clock))
    billed = stricter.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.codes_text == "99457;99458x2"
    assert billed.cause.startswith("a rule or setting change since close")
    assert billed.follow_up == "refund owed for 99458 ($41.00)"


def test_a_patient_billed_at_close_stays_on_the_report_when_gone(seeded: Service) -> None:
    seeded.patients.add("P-2000", PatientFields(  # no enrolment date; billable at the close
        initials="QQ", consent_on=date(2026, 9, 1), ordered_by=DOCTOR,
        order_on=date(2026, 9, 1)), actor="t")
    only = log(seeded, "25m", "call", patient="P-2000", started_at=IN_OCTOBER)
    seeded.closes.close(OCT, by="cli:billing")
    _void_amended(seeded, only, "logged for the wrong patient")
    rows = {r.patient_id: r for r in seeded.months.report(OCT)}
    assert "P-2000" in rows and rows["P-2000"].codes == ()
    billed = rows["P-2000"].billed_at_close
    assert billed is not None and billed.follow_up == "refund owed for 99457 ($52.00)"


def test_every_close_and_reopen_is_kept_and_the_latest_close_counts(
        seeded: Service, clock: FrozenClock) -> None:
    review = _october_99457(seeded)
    seeded.closes.close(OCT, by="first")
    with pytest.raises(BadInput, match="needs a reason"):
        seeded.closes.reopen(OCT, reason=" ", by="cli:billing", billed=False)
    clock.advance(hours=1)
    reopened = seeded.closes.reopen(OCT, reason="closed too early", by="cli:billing",
                                     billed=False)
    assert reopened.action == "reopen" and seeded.closes.get(OCT) is None
    totals = seeded.months.totals(OCT)
    assert totals.closed_by is None and "closed too early" in (totals.reopened or "")
    seeded.entries.void(review, reason="duplicate", by=NURSE)  # open again: no amendment
    with pytest.raises(BadInput, match="not closed"):
        seeded.closes.reopen(OCT, reason="again", by="cli:billing", billed=False)
    clock.advance(hours=1)
    second = seeded.closes.close(OCT, by="second")
    assert second.units == {"99470": 1}
    assert [(v.action, v.closed_by) for v in seeded.closes.history(OCT)] == [
        ("close", "first"), ("reopen", "cli:billing"), ("close", "second")]
    billed = seeded.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.closed_by == "second" and not billed.differs
    with seeded.ctx.db.read_session() as session:
        actions = [a.action for a in session.exec(select(AuditEvent).where(
            AuditEvent.entity == "month").order_by(AuditEvent.id)).all()]
    assert actions == ["month.close", "month.reopen", "month.close"]


def test_closing_says_what_it_locks_before_anything_changes(seeded: Service) -> None:
    _october_99457(seeded)
    preview = seeded.closes.preview(OCT)
    assert (preview.patients, preview.units, preview.amount) == (1, {"99457": 1},
                                                                 Decimal("52.00"))
    empty = seeded.closes.preview(Month(2026, 9))
    assert (empty.patients, empty.units, empty.amount) == (0, {}, Decimal("0.00"))
    assert seeded.closes.get(OCT) is None


def test_export_amendment_reason_carries_the_reason_of_a_void(seeded: Service) -> None:
    review = _october_99457(seeded)
    seeded.closes.close(OCT, by="cli:billing")
    seeded.ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
    seeded.entries.void(review, reason="wrong patient", by=ADMIN,
                        amendment=Amendment(reason="claim corrected", by=ADMIN))
    exported = csv.DictReader(io.StringIO(render.export_csv(
        seeded.entries.for_month(OCT), seeded.ctx.policy.zone, region="US")))
    reasons = {int(r["entry_id"]): r["amendment_reason"] for r in exported}
    assert reasons[review] == "void: claim corrected"


def test_migration_rebuilds_the_record_of_earlier_closes_as_reconstructed(
        seeded: Service) -> None:
    review = _october_99457(seeded)
    seeded.closes.close(OCT, by="before the upgrade")
    seeded.entries.void(review, reason="dup", by=ADMIN,
                        amendment=Amendment(reason="claim corrected", by=ADMIN))
    config = alembic_config(seeded.ctx.db.url)
    try:
        with seeded.ctx.db.engine.begin() as connection:  # back to before close history
            config.attributes["connection"] = connection
            command.downgrade(config, "0008-1")
    finally:
        upgrade_to_head(seeded.ctx.db.engine)
    with seeded.ctx.db.read_session() as session:
        events = session.exec(select(MonthCloseEvent)).all()
    assert [(e.month, e.by, e.record) for e in events] == [
        ("2026-10", "before the upgrade", "pending")]
    assert seeded.entries.get(review).void_amendment_reason == "claim corrected"
    assert seeded.closes.reconstruct_pending() == 1
    assert seeded.closes.reconstruct_pending() == 0
    billed = seeded.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.record == "reconstructed"
    assert billed.codes_text == "99470" and not billed.differs
    assert seeded.closes.get(OCT) is not None  # still closed


def test_a_patient_change_reads_the_closed_months_once(seeded: Service) -> None:
    """The closed-month guard of a patient update reads month_close_events once (SQLite;
    PostgreSQL reads it again under the months' locks), however many months are closed,
    and still refuses a change to a closed month without an amendment."""
    from datetime import date

    from sqlalchemy import event

    log(seeded, "20m", "call", started_at=IN_OCTOBER)
    seeded.closes.close(Month(2026, 9), by=ADMIN)
    seeded.closes.close(OCT, by=ADMIN)
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "month_close_events" in statement:
            seen.append(statement)

    engine = seeded.ctx.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with pytest.raises(BadInput, match="2026-10 is closed"):
            seeded.patients.update("P-1042", PatientFields(ended_on=date(2026, 10, 1)),
                                   actor="t")
        seen.clear()
        seeded.patients.update("P-1042", PatientFields(ended_on=date(2026, 10, 1)), actor="t",
                               amendment=Amendment(reason="ended in error", by=ADMIN))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    guard_reads = [s for s in seen if "month_totals" not in s and "JOIN" not in s.upper()]
    assert len(guard_reads) <= (2 if seeded.ctx.db.dialect == "postgresql" else 1), seen


def test_a_reopen_of_a_billed_month_keeps_comparing_with_what_was_billed(
        seeded: Service, clock: FrozenClock) -> None:
    """Outside clinic month: a billed month reopened, amended and closed again lost its
    "corrected claim adding 99470 (+$26)", as "billed at close" became the second close.
    The reopen now says whether the close was billed: later closes compare with it."""
    log(seeded, "8m", "call", started_at=IN_OCTOBER)  # live, 8 minutes: nothing to bill
    seeded.closes.close(OCT, by="first")
    clock.advance(hours=1)
    with pytest.raises(TypeError):  # no default: the caller must say which it was
        seeded.closes.reopen(OCT, reason="forgot a review", by=ADMIN)  # type: ignore[call-arg]
    reopened = seeded.closes.reopen(OCT, reason="forgot a review", by=ADMIN, billed=True)
    assert (reopened.action, reopened.billed) == ("reopen", True)
    log(seeded, "4m", "review", started_at=datetime(2026, 10, 22, 15, tzinfo=UTC))
    clock.advance(hours=1)
    seeded.closes.close(OCT, by="second")

    billed = seeded.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.closed_by == "first"
    assert (billed.codes_text, billed.differs) == ("none", True)
    assert billed.follow_up.startswith("corrected claim adding 99470")
    assert seeded.months.totals(OCT).changed_since_close[0].supported == "99470"
    assert [(v.action, v.closed_by, v.billed) for v in seeded.closes.history(OCT)] == [
        ("close", "first", None), ("reopen", f"Ada Admin ({ADMIN})", True),
        ("close", "second", None)]
    with seeded.ctx.db.read_session() as session:
        trail = session.exec(select(AuditEvent).where(
            AuditEvent.action == "month.reopen")).one()
    assert trail.after is not None and trail.after["billed"] is True


def test_a_reopen_of_a_month_not_billed_yet_makes_the_next_close_the_base(
        seeded: Service, clock: FrozenClock) -> None:
    log(seeded, "8m", "call", started_at=IN_OCTOBER)
    seeded.closes.close(OCT, by="first")
    clock.advance(hours=1)
    seeded.closes.reopen(OCT, reason="closed before the claims went out", by=ADMIN,
                         billed=False)
    log(seeded, "4m", "review", started_at=datetime(2026, 10, 22, 15, tzinfo=UTC))
    clock.advance(hours=1)
    seeded.closes.close(OCT, by="second")
    billed = seeded.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.closed_by == "second" and not billed.differs
    assert billed.codes_text == "99470"


def test_the_billed_close_stays_the_base_through_a_later_reopen_not_billed(
        seeded: Service, clock: FrozenClock) -> None:
    """close 1 (billed), reopen billed, close 2 (never sent), reopen not billed, close 3:
    what was billed is still close 1."""
    log(seeded, "8m", "call", started_at=IN_OCTOBER)
    seeded.closes.close(OCT, by="first")
    for n, (billed_then, minutes) in enumerate(((True, "4m"), (False, "10m")), start=2):
        clock.advance(hours=1)
        seeded.closes.reopen(OCT, reason=f"reopen {n}", by=ADMIN, billed=billed_then)
        log(seeded, minutes, "review", started_at=datetime(2026, 10, 20 + n, 15, tzinfo=UTC))
        clock.advance(hours=1)
        seeded.closes.close(OCT, by=f"close {n}")
    billed = seeded.months.report(OCT)[0].billed_at_close
    assert billed is not None and billed.closed_by == "first"
    assert billed.follow_up.startswith("corrected claim adding 99457")


def test_one_admin_signs_alike_from_slack_and_from_the_cli(
        seeded: Service, clock: FrozenClock) -> None:
    """Outside auditor: the same admin's closes read "by UBIL0001" (Slack) and "by Bea
    Billing" (CLI). A staff member named by id or by whole name signs "Name (id)"."""
    log(seeded, "25m", "call", started_at=IN_OCTOBER)
    from_slack = seeded.closes.close(OCT, by=ADMIN, as_admin=True)
    clock.advance(hours=1)
    reopened = seeded.closes.reopen(OCT, reason="a review was missed", by="  ada ADMIN ",
                                    billed=False)
    clock.advance(hours=1)
    from_cli = seeded.closes.close(OCT, by="Ada Admin")
    signed = f"Ada Admin ({ADMIN})"
    assert from_slack.closed_by == reopened.closed_by == from_cli.closed_by == signed
    assert seeded.months.report(OCT)[0].month_closed_by == signed
    assert seeded.months.totals(OCT).closed_by == signed
    assert seeded.audit_trail.verify().clean


def test_an_operator_or_an_ambiguous_name_is_kept_as_written(seeded: Service) -> None:
    """No guess: free text, or a name two members share, is recorded as typed."""
    seeded.staff.add(slack_user_id="U09TWIN", name="Ada Admin", role="clinical_staff",
                     actor="test")
    assert seeded.closes.close(OCT, by="Ada Admin").closed_by == "Ada Admin"
    seeded.closes.reopen(OCT, reason="wrong", by="cli:root", billed=False)
    assert seeded.closes.history(OCT)[-1].closed_by == "cli:root"


def test_migration_names_the_staff_who_closed_before_names_were_kept(seeded: Service) -> None:
    seeded.closes.close(OCT, by=ADMIN)
    seeded.closes.reopen(OCT, reason="wrong month", by="cli:root", billed=False)
    config = alembic_config(seeded.ctx.db.url)
    try:
        with seeded.ctx.db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0015")
    finally:
        upgrade_to_head(seeded.ctx.db.engine)
    with seeded.ctx.db.read_session() as session:
        events = session.exec(select(MonthCloseEvent).order_by(MonthCloseEvent.id)).all()
    assert [(e.by, e.by_name) for e in events] == [(ADMIN, "Ada Admin"), ("cli:root", None)]


def test_a_member_who_is_not_an_admin_cannot_sign_a_close(seeded: Service) -> None:
    """Outside auditor: `month reopen --by "nina ross"` was recorded as the nurse's reopen."""
    nurse = seeded.staff.get(NURSE)
    for by in (NURSE, nurse.name.upper()):
        with pytest.raises(BadInput, match=f"{nurse.name} \\({NURSE}\\) is not an active admin"):
            seeded.closes.close(OCT, by=by)
    assert seeded.closes.history(OCT) == []
