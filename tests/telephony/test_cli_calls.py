"""The calls commands and the staff Twilio options through the console entry point (in this
process, tests/cli/runner.py), on the service's frozen clock."""

import os
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.months import Month
from service import Service
from service.calls import CallEvent
from service.patients import PatientFields
from service.staff import StaffChanges
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, DOCTOR, NURSE, seed
from tests.telephony.conftest import (
    NURSE_PHONE,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    STRANGER_PHONE,
    new_sid,
)


@pytest.fixture
def run(db_url: str, clock: FrozenClock) -> Cli:
    """`rpm-logger ARGS` on the test database, at the frozen instant `svc` runs at."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env["DATABASE_URL"] = db_url
    return Cli(env, clock=clock)


def test_staff_twilio_options_then_list_and_attach_an_unmatched_call(
    svc: Service, run: Cli,
) -> None:
    seed(svc)
    run("staff", "update", NURSE, "--twilio-number", "(617) 555-0199",
         "--twilio-client", "client:nina")
    refused = run("staff", "update", ADMIN, "--twilio-client", "nina", code=2)
    assert "already belongs to U01NURSE" in refused.stderr
    svc.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="inbound", from_number=STRANGER_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=140,
        timestamp=datetime(2026, 11, 20, 19, tzinfo=UTC)))
    header, *rows = run("calls", "list", "--state", "unmatched").stdout.splitlines()
    # billing office finding 12: a header row names the columns
    assert header == "call\tstarted\tstate\tpatient\tstaff\tseconds\tnumbers\twhy"
    listed = "\n".join(rows)
    # the staff member by name beside the id (outside auditor's retry of issue 26.15)
    assert listed.startswith("C-1\t2026-11-20 13:57 EST\tunmatched\tunmatched\t"
                             "Nina Nurse (U01NURSE)\t140s")
    assert STRANGER_PHONE not in listed and "+1******0777 -> +1******0199" in listed
    # issue 13 item 12: the last column says why a call did not count
    assert listed.splitlines()[0].endswith("\tno patient or caregiver has this number")
    svc.calls.record_status(CallEvent(  # no Direction, from the nurse's Twilio number
        call_sid=new_sid(), status="completed", from_number=NURSE_TWILIO_NUMBER,
        to_number=PATIENT_PHONE, duration_seconds=60,
        timestamp=datetime(2026, 11, 20, 19, 30, tzinfo=UTC)))
    [_, leg] = run("calls", "list", "--state", "leg").stdout.splitlines()
    assert leg.startswith("C-2\t") and "\tleg\t" in leg
    assert leg.endswith("\tTwilio sent no Direction: from a staff number, so a staff "
                        "member's outgoing call: the conversation is on the dialed leg")
    assert "admin" in run("calls", "attach", "C-1", "P-1042", "--staff", NURSE,
                           code=2).stderr
    attached = run("calls", "attach", "c-1", "p-1042", "--staff", ADMIN).stdout
    assert "\tcounted\tP-1042 (JD)\t" in attached
    assert svc.months.summary("P-1042").total_seconds == 140
    assert run("calls", "list", "--state", "unmatched").stdout.splitlines() == [
        header]
    svc.calls.record_status(CallEvent(  # still in progress: no duration yet
        call_sid=new_sid(), status="in-progress", direction="inbound",
        from_number=STRANGER_PHONE, to_number=NURSE_TWILIO_NUMBER,
        timestamp=datetime(2026, 11, 20, 19, 45, tzinfo=UTC)))
    [ringing] = [r for r in run("calls", "list").stdout.splitlines() if r.startswith("C-3	")]
    assert ringing.split("\t")[5] == "-", ringing  # not "-s" (outside try)


def test_a_call_whose_entry_was_voided_is_listed_as_voided(svc: Service, run: Cli) -> None:
    """Tester finding 6: `calls list` showed a call as `counted` after its entry was voided,
    so the billing office could bill time the clinic had taken back."""
    seed(svc)
    run("staff", "update", NURSE, "--twilio-number", "(617) 555-0199")
    svc.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="inbound", from_number=STRANGER_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=300,
        timestamp=datetime(2026, 11, 20, 19, tzinfo=UTC)))
    entry_id = svc.calls.attach("C-1", "P-1042", by=ADMIN).call.entry_id
    assert entry_id is not None
    [_, before] = run("calls", "list").stdout.splitlines()
    assert "\tcounted\tP-1042 (JD)\t" in before and before.endswith("\t-")
    svc.entries.void(entry_id, reason="wrong patient", by=ADMIN)
    [_, after] = run("calls", "list").stdout.splitlines()
    assert "\tvoided\tP-1042 (JD)\t" in after and "\tcounted\t" not in after
    assert after.endswith(f"\tentry #{entry_id} was voided")
    assert svc.months.summary("P-1042").total_seconds == 0


def test_counted_means_counted_now_and_voided_lists_the_voided(svc: Service,
                                                               run: Cli) -> None:
    """Outside tester: `calls list --state counted` listed a call whose entry was voided."""
    seed(svc)
    run("staff", "update", NURSE, "--twilio-number", "(617) 555-0199")
    for hour in (19, 20):
        svc.calls.record_status(CallEvent(
            call_sid=new_sid(), status="completed", direction="inbound",
            from_number=PATIENT_PHONE, to_number=NURSE_TWILIO_NUMBER, duration_seconds=300,
            timestamp=datetime(2026, 11, 20, hour, tzinfo=UTC)))
    voided = svc.calls.get("C-1").entry_id
    assert voided is not None and svc.calls.get("C-2").state == "counted"
    svc.entries.void(voided, reason="wrong patient", by=ADMIN)

    def listed(*states: str) -> list[str]:
        args = [a for state in states for a in ("--state", state)]
        rows = run("calls", "list", *args).stdout.splitlines()[1:]
        return [f"{r.split(chr(9))[0]} {r.split(chr(9))[2]}" for r in rows]

    assert listed("counted") == ["C-2 counted"]
    assert listed("voided") == ["C-1 voided"]
    assert listed("counted", "voided") == ["C-2 counted", "C-1 voided"]
    assert listed() == ["C-2 counted", "C-1 voided"]
    # the limit counts only what is listed: the newest call (C-2) is counted, so the one
    # voided call still fills a list of one (it was filtered after the limit: none)
    assert [v.call_id for v in svc.calls.in_states(("voided",), limit=1)] == ["C-1"]


def test_an_after_close_call_says_how_to_count_it_and_counts_once_reopened(
    svc: Service, run: Cli,
) -> None:
    """Outside tester: a call that landed after its month was closed could not be attached,
    and the refusal showed only the raw state."""
    seed(svc)
    svc.patients.update("P-1042", PatientFields(enrolled_on=date(2026, 10, 1)), actor="t")
    run("staff", "update", NURSE, "--twilio-number", "(617) 555-0199")
    svc.closes.close(Month(2026, 10), by="billing")
    svc.calls.record_status(CallEvent(
        call_sid=new_sid(), status="completed", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER, duration_seconds=120,
        timestamp=datetime(2026, 10, 31, 20, tzinfo=UTC)))
    advice = ("arrived after 2026-10 was closed, so its time is not counted; to count it, "
              'reopen 2026-10 (rpm-logger month reopen 2026-10 --reason "..." --billed, or '
              "--not-billed if its claims were not sent yet), then attach it "
              "(rpm-logger calls attach C-1 P-1042 --staff ADMIN_ID), and close the month again")
    [_, row] = run("calls", "list", "--state", "after_close").stdout.splitlines()
    assert "\tafter_close\tP-1042 (JD)\t" in row and row.endswith("\t" + advice)
    refused = run("calls", "attach", "C-1", "P-1042", "--staff", ADMIN, code=2)
    assert "C-1 " + advice in " ".join(refused.stderr.split()), refused.stderr
    assert svc.calls.get("C-1").state == "after_close"  # the refusal changed nothing
    svc.closes.reopen(Month(2026, 10), reason="a late call", by="billing", billed=True)
    attached = run("calls", "attach", "C-1", "P-1042", "--staff", ADMIN).stdout
    assert "\tcounted\tP-1042 (JD)\t" in attached
    assert svc.months.summary("P-1042", Month(2026, 10)).total_seconds == 120
    assert "not unmatched" in run("calls", "attach", "C-1", "P-1042", "--staff", ADMIN,
                                   code=2).stderr


DOCTOR_TWILIO_NUMBER = "+16175550188"


def _bridge(svc: Service, parent: str, child: str, status: str, sequence: int,
            at: datetime) -> None:
    svc.calls.record_status(CallEvent(
        call_sid=child, parent_call_sid=parent, status=status, direction="outbound-dial",
        from_number=PATIENT_PHONE, to_number=NURSE_PHONE, sequence_number=sequence,
        timestamp=at))


def test_calls_list_names_the_member_dialed_while_it_rings_and_when_unanswered(
        svc: Service, run: Cli, clock: FrozenClock) -> None:
    """Outside try of issue 24: P-1042 (the nurse's patient) called the doctor's Twilio
    number; the bridge rang the nurse, but the call's first leg named the number's owner
    (the doctor) in `calls list`. It names the member it rang, ringing and unanswered."""
    seed(svc)
    svc.staff.update(DOCTOR, StaffChanges(add_twilio_numbers=(DOCTOR_TWILIO_NUMBER,)),
                     actor="test")
    parent, child = new_sid(), new_sid()
    route = svc.calls.route_incoming(CallEvent(
        call_sid=parent, status="ringing", direction="inbound", from_number=PATIENT_PHONE,
        to_number=DOCTOR_TWILIO_NUMBER), fallback=None)
    assert (route.dial_to, route.staff) == (NURSE_PHONE, NURSE)
    for status, sequence in (("initiated", 0), ("ringing", 1), ("no-answer", 2)):
        _bridge(svc, parent, child, status, sequence, clock.now)
        listed = run("calls", "list").stdout.splitlines()[1:]
        assert [line.split("\t")[4] for line in listed] == ["Nina Nurse (U01NURSE)"] * 2, \
            (status, listed)
    assert "Dee Doctor" not in run("calls", "list").stdout


def _start(svc: Service, call_sid: str) -> datetime:
    view = svc.calls.by_sid(call_sid)
    assert view is not None
    return view.started_at


def test_a_dialed_leg_never_starts_before_its_call(svc: Service, clock: FrozenClock) -> None:
    """Outside try of issue 24: a screened leg's start preceded its parent's. The parent's
    start is our clock's (/incoming carries no Timestamp), the leg's Twilio's whole-second
    Timestamp; and a parent first stored as a placeholder (its child reconciled first)
    started when we heard of it, hours after its child. Now a leg starts no earlier than
    its parent, and a placeholder starts when its child does, or earlier by its own
    event."""
    seed(svc)
    clock.now = datetime(2026, 11, 20, 20, 0, 0, 700_000, tzinfo=UTC)
    parent, child = new_sid(), new_sid()
    svc.calls.route_incoming(CallEvent(
        call_sid=parent, status="ringing", direction="inbound", from_number=PATIENT_PHONE,
        to_number=NURSE_TWILIO_NUMBER), fallback=None)
    _bridge(svc, parent, child, "initiated", 0, datetime(2026, 11, 20, 20, tzinfo=UTC))
    assert _start(svc, child) >= _start(svc, parent), (_start(svc, child), _start(svc, parent))
    # reconciled a day later, the child listed (and stored) first
    clock.now = datetime(2026, 11, 21, 18, tzinfo=UTC)
    end = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)
    parent, child = new_sid(), new_sid()
    svc.calls.reconcile([
        CallEvent(call_sid=parent, status="completed", direction="inbound",
                  from_number=PATIENT_PHONE, to_number=NURSE_TWILIO_NUMBER,
                  duration_seconds=230, timestamp=end),
        CallEvent(call_sid=child, parent_call_sid=parent, status="completed",
                  direction="outbound-dial", from_number=PATIENT_PHONE, to_number=NURSE_PHONE,
                  duration_seconds=200, timestamp=end)])
    assert _start(svc, parent) == end - timedelta(seconds=230)  # its own, not "a day later"
    assert _start(svc, child) == end - timedelta(seconds=200)
    assert svc.audit_trail.verify().clean
