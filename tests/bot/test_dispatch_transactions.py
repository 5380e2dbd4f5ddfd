"""Issue 14: a Slack command is one use case in one transaction, which checks its caller
itself (no gate read before it), within the statement budgets, on SQLite and PostgreSQL.

SQLite counts each transaction's BEGIN; PostgreSQL counts its month lock on a write."""

import json

import pytest

from bot import dispatch, grammar
from service import Service
from service.staff import StaffChanges
from tests.conftest import FrozenClock
from tests.service.helpers import ADMIN, CLERK, NURSE, log, seed
from tests.service.test_entry_transactions import CHAIN, counted

STRANGER = "U09STRANGER"
LOG_BUDGET, STATUS_BUDGET = 8, 4


@pytest.fixture
def s(svc: Service) -> Service:
    seed(svc)
    log(svc, "5m")  # the month is not empty
    return svc


def _run(svc: Service, text: str, user: str = NURSE) -> str:
    """The reply's text and blocks, as one string."""
    reply = dispatch.run(svc, grammar.parse(text), dispatch.Caller(user, "D01"))
    return f"{reply.text} {reply.blocks}"


def _entries(svc: Service) -> int:
    return len(svc.entries.for_patient_month("P-1042", svc.months.current()))


@pytest.mark.parametrize(("text", "kind", "budget", "says"), [
    ("log P-1042 12m review", "write", LOG_BUDGET, "Saved entry #2"),
    ("status P-1042", "read", STATUS_BUDGET, "P-1042"),
    ("status", "read", STATUS_BUDGET, "Your 1 patient"),  # the caller's caseload
])
def test_a_command_is_one_transaction_within_its_budget(s: Service, text: str, kind: str,
                                                        budget: int, says: str) -> None:
    with counted(s) as (opened, statements):
        reply = _run(s, text)
    assert says in reply
    assert opened == [kind]
    chain = CHAIN[s.ctx.db.dialect] if kind == "write" else 0  # issue 16's audit chain
    assert len(statements) <= budget + chain, statements


@pytest.mark.parametrize("text", [
    "log P-1042 12m review", "log P-1024 12m review", "log 12m review", "status P-1042",
    "status P-1024", "status", "use P-1024", "start P-1024", "timer", "risk", "undo", "void 1 dup",
    "calls unmatched", "month close 2026-10", "month reopen 2026-10 wrong",
])
@pytest.mark.parametrize("user", [STRANGER, "inactive"])
def test_strangers_and_leavers_get_the_polite_refusal_from_the_use_case(
        s: Service, text: str, user: str) -> None:
    """The refusal names the admins, is read in the use case's one transaction, comes
    before any patient lookup (no "did you mean" hints of clinic ids) and changes nothing."""
    said = "not set up as clinic staff"
    if user == "inactive":  # a leaver, whose direct messages still have a patient set
        s.current_patient.use(channel_id="D01", user_id=CLERK, patient_ref="P-1042")
        s.staff.update(CLERK, StaffChanges(active=False), actor="test")
        user = CLERK
        said = "staff account has been deactivated"  # not "set up yet" (outside try)
    before = _entries(s)
    with counted(s) as (opened, _):
        reply = _run(s, text, user)
    assert said in reply and f"<@{ADMIN}>" in reply
    assert "Did you mean" not in reply and "P-1042" not in reply
    assert len(opened) == 1
    assert _entries(s) == before


def test_staff_who_are_not_admins_are_told_who_is(s: Service) -> None:
    with counted(s) as (opened, _):
        reply = _run(s, "calls unmatched")
    assert f"Only an admin may do that. Admins: <@{ADMIN}>." in reply
    assert opened == ["read"]


def test_the_home_tab_greets_a_stranger_and_serves_staff(s: Service) -> None:
    assert "not set up as clinic staff" in str(dispatch.home(s, STRANGER))
    assert "P-1042" in str(dispatch.home(s, NURSE))


# Issue 22: a command that names no patient reads the conversation's patient (`/rpm use`) in
# the use case's own transaction, not in one of its own before it.
CONTEXT_READ = 1  # store.contexts.patients_of: one statement


def _use_here(svc: Service) -> None:
    svc.current_patient.use(channel_id="D01", user_id=NURSE, patient_ref="P-1042",
                            by_phone=False)


def test_a_log_without_a_patient_is_the_picker_read_in_one_transaction(s: Service) -> None:
    """None typed and none set here: the picker's buttons, read with the caller's check in
    the one transaction (the old bot read the context, then the patients: two)."""
    before = _entries(s)
    with counted(s) as (opened, statements):
        reply = dispatch.run(s, grammar.parse("log 12m review"), dispatch.Caller(NURSE, "D01"))
    assert reply.text == "Which patient is this for?" and "P-1042 (JD)" in str(reply.blocks)
    assert len(opened) == 1
    assert len(statements) <= 3 + 1, statements  # context, caller, patients (+ BEGIN)
    assert _entries(s) == before


@pytest.mark.parametrize("text", ["log 12m review", "log 12m review yesterday"])
def test_a_log_for_the_conversations_patient_is_one_write(s: Service, text: str) -> None:
    _use_here(s)
    with counted(s) as (opened, statements):
        reply = _run(s, text)
    assert "Saved entry #2" in reply and "P-1042" in reply
    assert opened == ["write"]
    chain = CHAIN[s.ctx.db.dialect]
    assert len(statements) <= LOG_BUDGET + CONTEXT_READ + 1 + chain, statements  # +1: late


def test_the_pickers_click_completes_the_log_in_one_write(s: Service) -> None:
    """The button carries the log; the click (bot/listeners/actions.py) runs it with the
    patient put back: one write."""
    picker = dispatch.run(s, grammar.parse("log 12m review note"), dispatch.Caller(NURSE, "D01"))
    [value] = [element["value"] for block in picker.blocks or [] if block["type"] == "actions"
               for element in block["elements"]]
    carried = json.loads(value)
    with counted(s) as (opened, statements):
        reply = _run(s, f"log {carried['patient']} {carried['log']}")
    assert "Saved entry #2" in reply
    assert opened == ["write"]
    assert len(statements) <= LOG_BUDGET + CHAIN[s.ctx.db.dialect], statements


def test_a_start_for_the_conversations_patient_is_one_write(s: Service) -> None:
    with counted(s) as (opened, _):
        reply = _run(s, "start")
    assert "Which patient? `/rpm start P-1042 [ACTIVITY]`" in reply
    assert len(opened) == 1
    _use_here(s)
    with counted(s) as (opened, _):
        reply = _run(s, "start")
    assert "Started your timer for *P-1042 (JD)*" in reply
    assert opened == ["write"]


def test_the_home_tab_is_one_read(s: Service) -> None:
    """The caseload and the running timer (the old bot read them in two transactions)."""
    s.timers.start(NURSE, "P-1042")
    with counted(s) as (opened, statements):
        view = str(dispatch.home(s, NURSE))
    assert "P-1042 (JD)" in view and "running" in view
    assert opened == ["read"]
    assert len(statements) <= 3 + 1, statements  # caller, caseload, timer (+ BEGIN)
    with counted(s) as (opened, _):
        assert "not set up as clinic staff" in str(dispatch.home(s, STRANGER))
    assert opened == ["read"]


def test_the_home_start_button_starts_and_reads_the_tab_in_one_write(s: Service) -> None:
    """The click's reply and the refreshed tab (bot/listeners/actions.py publishes it) come
    from one use case: the old listener started the timer, then read the tab in two more."""
    with counted(s) as (opened, _):
        reply, view = dispatch.home_start(s, dispatch.Caller(NURSE, ""), "P-1042")
    assert "Started your timer for *P-1042 (JD)*" in str(reply.text) + str(reply.blocks)
    assert "Timer for *P-1042 (JD)* (review) running" in str(view)
    assert opened == ["write"]
    with counted(s) as (opened, _):  # refused (one is running): nothing written, tab read
        reply, view = dispatch.home_start(s, dispatch.Caller(NURSE, ""), "P-1042")
    assert "is already running" in str(reply.text) + str(reply.blocks)
    assert "Timer for *P-1042 (JD)* (review) running" in str(view)
    assert opened == ["write"]
    assert s.timers.current(NURSE) is not None
    with counted(s) as (opened, _):
        reply, view = dispatch.home_start(s, dispatch.Caller(STRANGER, ""), "P-1042")
    assert "not set up as clinic staff" in f"{reply.text} {reply.blocks}" and \
        "not set up as clinic staff" in str(view)
    assert len(opened) == 1


def test_the_home_stop_button_is_the_stated_exception(s: Service, clock: FrozenClock) -> None:
    """README: a timer's stop commits its entry, then removes the timer in a second write
    (so a failed removal never unsaves the entry), and the tab is read after them."""
    s.timers.start(NURSE, "P-1042")
    clock.advance(minutes=5)
    caller = dispatch.Caller(NURSE, "")
    with counted(s) as (opened, _):
        reply = dispatch.home_stop(s, caller)
        view = dispatch.home(s, NURSE)  # as bot/listeners/actions.py refreshes the tab
    assert "Saved entry #2" in f"{reply.text} {reply.blocks}" and "Timer for" not in str(view)
    assert opened == ["write", "write", "read"]
