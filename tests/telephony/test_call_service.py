"""The call service functions the Slack bot and CLI call: confirm, note, attach, claim."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from service import Service
from service.calls import CallEvent, parse_call_id
from service.errors import BadInput, NotAllowed, NotFound
from service.patients import PatientFields
from service.staff import StaffChanges
from store.models import AuditEvent, Staff, StaffPhone, TimeEntry
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE
from tests.telephony.conftest import (
    CALL_END,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    STRANGER_PHONE,
    new_sid,
    record_outbound,
    seed_clinic,
)

END = CALL_END


@pytest.fixture
def clinic(svc: Service) -> Service:
    seed_clinic(svc)
    return svc


def _audits(svc: Service, action: str) -> list[AuditEvent]:
    with svc.ctx.db.read_session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_yes_counts_an_unconfirmed_call_once(clinic: Service) -> None:
    call_id = record_outbound(clinic)
    assert clinic.calls.get(call_id).state == "unconfirmed"
    outcome = clinic.calls.confirm(call_id, live=True, by=NURSE)
    assert (outcome.call.state, outcome.changed, outcome.previous_state) == \
        ("counted", True, "unconfirmed")
    with pytest.raises(BadInput, match="counted, not waiting"):
        clinic.calls.confirm(call_id, live=True, by=NURSE)  # a double click changes nothing
    summary = clinic.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (200, 1)
    [audit] = _audits(clinic, "call.confirm")
    assert audit.actor == NURSE and audit.after["state"] == "counted"


def test_no_keeps_the_call_as_not_live(clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="unknown")
    outcome = clinic.calls.confirm(call_id, live=False, by=NURSE)
    assert outcome.call.state == "not_live"
    assert clinic.months.summary("P-1042").live_interactions == 0
    assert len(_audits(clinic, "call.reject")) == 1


def test_only_the_staff_member_on_the_call_or_an_admin_confirms(clinic: Service) -> None:
    call_id = record_outbound(clinic)
    with pytest.raises(NotAllowed):
        clinic.calls.confirm(call_id, live=True, by=DOCTOR)
    assert clinic.calls.confirm(call_id, live=True, by=ADMIN).call.state == "counted"


def test_a_note_is_kept_on_the_call_and_audited(clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human")
    clinic.calls.add_note(call_id, "Reviewed BP log; dose unchanged.", by=NURSE)
    view = clinic.calls.add_note(call_id, "Follow up Friday.", by=NURSE)
    assert view.note == "Reviewed BP log; dose unchanged.\nFollow up Friday."
    assert len(_audits(clinic, "call.note")) == 2
    with pytest.raises(BadInput, match="empty"):
        clinic.calls.add_note(call_id, "  ", by=NURSE)
    with pytest.raises(NotAllowed):
        clinic.calls.add_note(call_id, "mine", by=DOCTOR)


def test_attach_is_for_admins_and_only_for_unmatched_calls(clinic: Service) -> None:
    call_id = record_outbound(clinic, answered_by="human", to=STRANGER_PHONE)
    assert clinic.calls.get(call_id).state == "unmatched"
    with pytest.raises(NotAllowed, match="admin"):
        clinic.calls.attach(call_id, "P-1042", by=NURSE)
    with pytest.raises(NotFound, match="No patient 'P-9999'"):
        clinic.calls.attach(call_id, "P-9999", by=ADMIN)
    assert clinic.calls.get(call_id).state == "unmatched"  # refusals changed nothing
    assert clinic.calls.attach(call_id, "P-1042", by=ADMIN).call.state == "counted"
    with pytest.raises(BadInput, match="not unmatched"):
        clinic.calls.attach(call_id, "P-1042", by=ADMIN)
    assert clinic.months.summary("P-1042").total_seconds == 200


def test_an_unconfirmed_call_to_an_unknown_number_is_confirmed_then_attached(
    clinic: Service,
) -> None:
    """The nurse knows whom she called: she is asked first, the admin attaches after."""
    call_id = record_outbound(clinic, to=STRANGER_PHONE)
    assert clinic.calls.get(call_id).state == "unconfirmed"
    assert clinic.calls.get(call_id).patient_label == "an unknown number"
    assert clinic.calls.confirm(call_id, live=True, by=NURSE).call.state == "unmatched"
    assert clinic.calls.attach(call_id, "P-1042", by=ADMIN).call.state == "counted"
    assert clinic.months.summary("P-1042").live_interactions == 1


def test_claim_only_a_call_with_nobody_on_record(clinic: Service) -> None:
    sid = new_sid()
    clinic.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number="+16175550188", duration_seconds=120, timestamp=END))
    view = clinic.calls.by_sid(sid)
    assert view is not None and view.state == "unclaimed"
    with pytest.raises(NotFound):
        clinic.calls.claim(view.call_id, by="U09NOBODY")
    outcome = clinic.calls.claim(view.call_id, by=CLERK)  # non-clinical: stored, not counted
    assert outcome.call.state == "counted"
    summary = clinic.months.summary("P-1042")
    assert (summary.total_seconds, summary.uncounted_seconds) == (0, 120)
    with pytest.raises(BadInput, match="already on record"):
        clinic.calls.claim(view.call_id, by=NURSE)


def test_a_call_outside_the_enrolment_is_kept_but_refused(clinic: Service) -> None:
    clinic.patients.update("P-1042", PatientFields(enrolled_on=datetime(2026, 11, 25).date()),
                           actor="test")
    call_id = record_outbound(clinic, answered_by="human")
    view = clinic.calls.get(call_id)
    assert view.state == "refused" and "enrolled on 2026-11-25" in (view.state_reason or "")
    with clinic.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry)).all() == []


def test_call_ids_are_short_and_forgiving() -> None:
    assert [parse_call_id(t) for t in ("C-12", "c12", "#12", "12", " C-7 ")] == \
        [12, 12, 12, 12, 7]
    for bad in ("CA123", "x", "0", "C-"):
        with pytest.raises(BadInput):
            parse_call_id(bad)


def test_reconciled_calls_are_stored_once_children_first(clinic: Service) -> None:
    parent, child = new_sid(), new_sid()
    events = [
        CallEvent(call_sid=parent, status="completed", direction="outbound-api",
                  from_number=NURSE_TWILIO_NUMBER, to_number="+16175550101",
                  duration_seconds=260, timestamp=END),
        CallEvent(call_sid=child, parent_call_sid=parent, status="completed",
                  direction="outbound-dial", from_number=NURSE_TWILIO_NUMBER,
                  to_number=PATIENT_PHONE, duration_seconds=240, answered_by="human",
                  timestamp=END),
    ]
    first = clinic.calls.reconcile(events)
    again = clinic.calls.reconcile(events)
    assert [o.call.call_sid for o in first] == [child, parent]
    assert [o.call.state for o in first] == ["counted", "leg"]
    assert not any(o.changed for o in again)
    summary = clinic.months.summary("P-1042")
    assert (summary.total_seconds, summary.live_interactions) == (240, 1)


def test_staff_twilio_number_and_client_are_set_and_checked(clinic: Service) -> None:
    with clinic.ctx.db.read_session() as session:
        nurse = session.exec(select(Staff).where(Staff.slack_user_id == NURSE)).one()
        kinds = {p.e164: p.kind for p in session.exec(
            select(StaffPhone).where(StaffPhone.staff_id == nurse.id))}
    assert nurse.twilio_client == "nina"
    assert kinds == {"+16175550101": "phone", NURSE_TWILIO_NUMBER: "twilio_number"}
    with pytest.raises(BadInput, match="already belongs to U01NURSE"):
        clinic.staff.update(DOCTOR, StaffChanges(twilio_client="client:nina"), actor="t")
    with pytest.raises(BadInput, match="another staff member"):
        clinic.staff.update(DOCTOR, StaffChanges(add_twilio_numbers=(NURSE_TWILIO_NUMBER,)),
                            actor="t")
    clinic.staff.update(NURSE, StaffChanges(twilio_client=""), actor="t")
    with clinic.ctx.db.read_session() as session:
        assert session.get(Staff, nurse.id).twilio_client is None  # type: ignore[union-attr]


def test_a_call_for_a_closed_month_is_stored_and_flagged_not_counted(clinic: Service) -> None:
    """Month close is the billing office's (issue #6); its check plugs in here."""
    closed = {"2026-10"}
    clinic.calls.month_closed = lambda _session, month: str(month) in closed
    sid = new_sid()
    outcome = clinic.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=120,
        timestamp=datetime(2026, 10, 31, 20, tzinfo=UTC)))
    assert (outcome.call.state, outcome.call.after_close) == ("after_close", True)
    assert outcome.call.entry_id is None
    with clinic.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry)).all() == []
    november = clinic.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=120, timestamp=END))
    assert november.call.state == "counted"


def test_every_delivery_order_with_retries_ends_counted_once(clinic: Service) -> None:
    """All 24 orders of one call's four callbacks, each delivered twice."""
    from itertools import permutations

    steps = [("initiated", 0, None), ("ringing", 1, None), ("in-progress", 2, None),
             ("completed", 3, 95)]
    sids = []
    for order in permutations(steps):
        sid = new_sid()
        sids.append(sid)
        for status, sequence, seconds in [s for s in order for _ in range(2)]:
            clinic.calls.record_status(CallEvent(
                call_sid=sid, status=status, direction="inbound", from_number=PATIENT_PHONE,
                to_number=NURSE_TWILIO_NUMBER, duration_seconds=seconds,
                sequence_number=sequence, timestamp=END))
        view = clinic.calls.by_sid(sid)
        assert view is not None and (view.status, view.state) == ("completed", "counted"), order
    with clinic.ctx.db.read_session() as session:
        refs = sorted(e.external_ref or "" for e in session.exec(select(TimeEntry)))
    assert refs == sorted(sids)
    # the 24 calls share the same minutes (same END): clock-timed time counts once (issue 11)
    summary = clinic.months.summary("P-1042")
    assert (summary.total_seconds, summary.not_counted_seconds) == (95, 95 * 23)


def test_the_month_report_lists_calls_the_billing_office_must_settle(clinic: Service) -> None:
    from billing.months import Month

    sid = new_sid()
    clinic.calls.record_status(CallEvent(
        call_sid=sid, status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number="+16175550188", duration_seconds=120, timestamp=END))
    unclaimed = clinic.calls.by_sid(sid)
    unconfirmed = record_outbound(clinic)
    record_outbound(clinic, answered_by="human", to=STRANGER_PHONE)  # no patient: unmatched
    assert unclaimed is not None
    warnings = clinic.months.summary("P-1042").warnings
    assert (f"call {unclaimed.call_id} no staff member on record, not counted: claim with "
            "/rpm calls claim") in warnings
    assert f"call {unconfirmed} awaits the staff member's answer: was it a live " \
        "conversation?" in warnings
    assert clinic.months.totals(Month(2026, 11)).unmatched_calls == 1
    clinic.calls.claim(unclaimed.call_id, by=NURSE)
    clinic.calls.confirm(unconfirmed, live=False, by=NURSE)
    assert not any(w.startswith("call ") for w in clinic.months.summary("P-1042").warnings)


def test_a_call_without_direction_says_why_it_became_a_leg(clinic: Service) -> None:
    """Issue 13 item 12: a call Twilio reported without `Direction`, from a staff member's
    Twilio number, became `leg` with no reason the billing office could read."""
    outcome = clinic.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", from_number=NURSE_TWILIO_NUMBER,
        to_number=PATIENT_PHONE, duration_seconds=300, timestamp=END))
    call = outcome.call
    assert call.state == "leg"
    assert call.state_reason is not None
    assert call.state_reason.startswith("Twilio sent no Direction: ")
    assert "staff member's outgoing call" in call.state_reason


def test_a_completed_call_is_one_short_transaction(clinic: Service) -> None:
    """Issue 14: a completed nurse-to-patient call is read once and written once: the call
    row inserted with its final values (no INSERT then UPDATEs), one audit record per write
    (the entry's and the call's), the DM to the nurse queued with them (issue 25: the outbox,
    so no Slack call is made on the request path), at most 10 statements on SQLite (one more
    on PostgreSQL: the month's shared lock against a close running at the same time)."""
    from sqlalchemy import event as sa_event

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    engine = clinic.ctx.db.engine
    record_outbound(clinic, answered_by="human")  # warm: the first run compiles statements
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        sid = new_sid()
        outcome = clinic.calls.record_status(CallEvent(
            call_sid=sid, status="completed", direction="outbound-api",
            from_number=NURSE_TWILIO_NUMBER, to_number=PATIENT_PHONE, duration_seconds=200,
            answered_by="human", sequence_number=4, timestamp=END))
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert outcome.call.state == "counted" and outcome.call.entry_id is not None
    budget = 10 if clinic.ctx.db.dialect == "sqlite" else 11
    assert len(statements) <= budget, statements
    assert statements.count("UPDATE") == 0
    # the entry, the call, their two audit records (one statement at commit: the chain), the DM
    assert statements.count("INSERT") == 4
    assert len(_audits(clinic, "call.status")) == 2 and len(_audits(clinic, "entry.log")) == 2
