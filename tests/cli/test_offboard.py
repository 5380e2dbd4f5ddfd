"""`rpm-logger staff offboard SLACK_ID --reassign-to SLACK_ID` (issue 24, "Offboarding"): a
preview, a question on a terminal, then one transaction: inactive from now, patients moved,
the running timer ended (logged with a note, or dropped with a note and the admins told),
the voice PIN removed, why recorded; `audit verify` stays intact. And plain `staff update
--inactive`, which records the same instant, refused while patients or a timer are left."""

import os
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from service import Service
from service.patients import PatientFields
from store.models import AuditEvent, RunningTimer, Staff, TimeEntry
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.fakes.slack_api import SlackApiRecorder
from tests.service.helpers import ADMIN, CLERK, DOCTOR, NURSE, seed

OFFBOARD = ("staff", "offboard", NURSE, "--reassign-to", DOCTOR)


def _cli(db_url: str, clock: FrozenClock, **extra: str) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    return Cli({**env, "DATABASE_URL": db_url, **extra}, clock=clock)


def _clinic(svc: Service) -> None:
    """The shared seed, the nurse with a second patient, a voice PIN and a running timer."""
    seed(svc)
    svc.patients.add("P-2002", PatientFields(initials="AB", assign=NURSE), actor="test")
    svc.voice_access.set_pin(NURSE, "4826", actor="test")
    svc.timers.start(NURSE, "P-1042")


def _staff(svc: Service, slack_id: str) -> Staff:
    with svc.ctx.db.read_session() as session:
        return session.exec(select(Staff).where(Staff.slack_user_id == slack_id)).one()


def _state(svc: Service) -> tuple[Any, ...]:
    """What a refusal must leave as it was: staff, patients (with assignees), entries, the
    running timers and the audit trail's length."""
    with svc.ctx.db.read_session() as session:
        rows = (session.exec(select(TimeEntry)).all(), session.exec(select(RunningTimer)).all(),
                len(session.exec(select(AuditEvent)).all()))
    return (svc.staff.list(include_inactive=True), svc.patients.list(), *rows)


def _actions(svc: Service) -> list[tuple[str, str, Any]]:
    with svc.ctx.db.read_session() as session:
        return [(e.action, e.entity_id, e.after) for e in session.exec(
            select(AuditEvent).order_by(AuditEvent.id))]  # type: ignore[arg-type]


def test_offboard_previews_asks_then_does_everything_in_one_go(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    _clinic(svc)
    clock.advance(minutes=25)
    cli = _cli(db_url, clock)
    before = _state(svc)
    said_no = cli.on_terminal("n", *OFFBOARD, "--reason", "left the clinic")
    assert said_no.returncode == 2 and "nothing changed" in said_no.stderr
    preview = said_no.stderr
    assert "Nina Nurse (U01NURSE) becomes inactive from 2026-11-20 15:25 EST" in preview
    assert "2 patients move to Dee Doctor (U02DOCTOR): P-1042 (JD), P-2002 (AB)" in preview
    assert "running timer for P-1042 (JD) (review, since 2026-11-20 15:00 EST, 25 min)" in preview
    assert "voice PIN is removed" in preview and "Offboard U01NURSE? [y/N]" in preview
    assert _state(svc) == before

    done = cli.on_terminal("y", *OFFBOARD, "--reason", "left the clinic")
    assert done.returncode == 0, done.stderr
    assert "offboarded U01NURSE" in done.stdout and "(entry #" in done.stdout
    nurse = _staff(svc, NURSE)
    assert (nurse.active, nurse.inactive_from, nurse.voice_pin_hash) == \
        (False, clock.now, None)
    assert cli("patient", "list", "--assigned-to", NURSE).stdout == ""
    assert cli("patient", "list", "--assigned-to", DOCTOR).stdout.count("P-") == 2
    with svc.ctx.db.read_session() as session:
        [entry] = session.exec(select(TimeEntry)).all()
        assert session.exec(select(RunningTimer)).all() == []
    assert (entry.staff_id, entry.duration_seconds) == (nurse.id, 25 * 60)
    assert entry.note is not None and "was offboarded at 2026-11-20 15:25 EST" in entry.note
    actions = _actions(svc)
    offboard = [a for a in actions if a[0] == "staff.offboard"]
    assert len(offboard) == 1 and offboard[0][2]["reason"] == "left the clinic"
    assert offboard[0][2]["reassigned_to"] == DOCTOR and offboard[0][2]["patients_moved"] == 2
    assert sorted(a[1] for a in actions if a[0] == "patient.reassign") == ["P-1042", "P-2002"]
    assert [a[0] for a in actions if a[0].startswith("timer.")][-1] == "timer.stop_offboard"
    assert cli("audit", "verify").returncode == 0
    assert "inactive since 2026-11-20 15:25 EST" in cli("staff", "list", "--all").stdout
    again = cli(*OFFBOARD, "--yes", code=2)  # nothing left to do
    assert "offboarded already" in again.stderr


@pytest.mark.parametrize("how", ["over_limit", "drop_timer"])
def test_a_dropped_timer_is_noted_and_every_admin_told_by_dm(
    svc: Service, db_url: str, clock: FrozenClock, slack_api: SlackApiRecorder, how: str,
) -> None:
    _clinic(svc)
    clock.advance(minutes=300 if how == "over_limit" else 10)
    cli = _cli(db_url, clock, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=slack_api.base_url)
    args = (*OFFBOARD, "--yes") + (("--drop-timer",) if how == "drop_timer" else ())
    done = cli(*args)
    assert "dropped unlogged with a note" in done.stdout
    with svc.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry)).all() == []
        assert session.exec(select(RunningTimer)).all() == []
    [dropped] = [a for a in _actions(svc) if a[0] == "timer.drop_offboard"]
    assert "Timer dropped unlogged when Nina Nurse (U01NURSE) was offboarded" in \
        dropped[2]["note"]
    [opened] = slack_api.calls_to("conversations.open")
    assert opened.body["users"] == ADMIN
    [dm] = slack_api.calls_to("chat.postMessage")
    assert "<@U01NURSE> dropped their running timer for P-1042 (JD)" in dm.body["text"]
    assert "+1" not in dm.body["text"]  # no phone, no name of the patient: id and initials
    assert cli("audit", "verify").returncode == 0


def test_bad_input_is_refused_with_exit_2_and_nothing_changed(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    _clinic(svc)
    cli = _cli(db_url, clock)
    cli("staff", "update", CLERK, "--inactive")  # no patients, no timer: allowed
    before = _state(svc)
    refusals = {
        ("staff", "offboard", "U0NOBODY", "--reassign-to", DOCTOR, "--yes"): "No staff member",
        ("staff", "offboard", NURSE, "--reassign-to", "U0NOBODY", "--yes"): "No staff member",
        ("staff", "offboard", NURSE, "--reassign-to", NURSE, "--yes"): "their own patients",
        ("staff", "offboard", NURSE, "--reassign-to", CLERK, "--yes"): "is inactive",
        ("staff", "offboard", NURSE, "--reassign-to", "not-an-id", "--yes"): "Slack user id",
        OFFBOARD: "no terminal to confirm on",
        ("staff", "update", NURSE, "--inactive"): "staff offboard U01NURSE --reassign-to",
    }
    for args, said in refusals.items():
        assert said in cli(*args, code=2).stderr, args
    assert _state(svc) == before


def test_staff_update_inactive_records_the_instant_and_active_clears_it(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    seed(svc)
    cli = _cli(db_url, clock)
    cli("staff", "update", CLERK, "--inactive")
    assert _staff(svc, CLERK).inactive_from == clock.now
    clock.advance(hours=1)
    cli("staff", "update", CLERK, "--inactive")  # again: the first instant is kept
    assert _staff(svc, CLERK).inactive_from == clock.now - timedelta(hours=1)
    cli("staff", "update", CLERK, "--active")
    clerk = _staff(svc, CLERK)
    assert (clerk.active, clerk.inactive_from) == (True, None)
    assert cli("audit", "verify").returncode == 0


def test_a_dropped_timers_time_can_be_logged_for_her_before_her_inactive_from_only(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    """The recovery the offboarding output and docs/people.md point to: `log --staff HER
    --at ...` from the CLI for time before her inactive-from instant (outside try: refused
    as "inactive"); at or after that instant still refused, naming it."""
    _clinic(svc)
    clock.advance(minutes=300)  # past MAX_ENTRY_MINUTES: the timer is dropped
    cli = _cli(db_url, clock)
    done = cli(*OFFBOARD, "--yes")
    assert "dropped unlogged" in done.stdout
    [dropped] = [a for a in _actions(svc) if a[0] == "timer.drop_offboard"]
    assert f"rpm-logger log --staff {NURSE} --at" in dropped[2]["note"]
    gone = _staff(svc, NURSE).inactive_from
    assert gone is not None
    clock.advance(minutes=10)
    before = (gone - timedelta(minutes=30)).isoformat()
    logged = cli("log", "P-1042", "20m", "review", "--staff", NURSE, "--at", before)
    with svc.ctx.db.read_session() as session:
        [entry] = session.exec(select(TimeEntry)).all()
    assert (entry.staff_id, entry.duration_seconds) == (_staff(svc, NURSE).id, 20 * 60)
    assert logged.stdout.strip() == str(entry.id)
    state = _state(svc)
    for start, minutes in ((before, "31m"), (gone.isoformat(), "1m"),
                           ((gone + timedelta(minutes=1)).isoformat(), "1m")):
        refused = cli("log", "P-1042", minutes, "review", "--staff", NURSE, "--at", start,
                      code=2).stderr
        assert "inactive from 2026-11-20 20:00 EST" in refused, refused
    refused = cli("log", "P-1042", "1m", "review", "--staff", NURSE, code=2).stderr
    assert "inactive from" in refused
    assert _state(svc) == state
    cli("month", "close", "2026-10", "--yes")  # a closed month still needs an amendment
    october = "2026-10-15T10:00:00-04:00"
    assert "--amend" in cli("log", "P-1042", "5m", "review", "--staff", NURSE, "--at",
                            october, code=2).stderr
    cli("log", "P-1042", "5m", "review", "--staff", NURSE, "--at", october,
        "--amend", "timer dropped at offboarding")
    assert cli("audit", "verify").returncode == 0
