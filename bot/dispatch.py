"""Runs one parsed command against the service and renders the reply.

Everything here is blocking (database), so listeners call `run` off the event loop. Each
command calls one service operation, which checks its caller (active staff, admin) inside its
own transaction: there is no gate read before it, and a NotStaff refusal becomes the polite
stranger reply naming the admins. Every other refusal the service raises becomes a clear reply,
a database outage becomes "not saved — try again", and nothing says "saved" unless the
service returned, which it does only after the commit.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from billing.months import Month
from bot import grammar
from presentation import blocks
from presentation.blocks import Reply
from presentation.render import SLACK_REPORT_COLUMNS, report_csv
from service import Service
from service.audit_packets import PacketNotice
from service.calls import CallOutcome, CallView
from service.chat_entries import ChatLogged, ChatPick
from service.entries import LogRequest
from service.errors import (
    InvalidInput,
    NotAdmin,
    NotStaff,
    SaveUnconfirmed,
    StoreConflict,
    StoreUnavailable,
)
from service.home import HomeStart
from service.offboarding import TimerDropped
from service.staff import clean_slack_user_id
from service.views import MonthTotals

log = logging.getLogger("rpm_logger.bot")
T = TypeVar("T")


class Dialer(Protocol):
    """Click-to-call, as the bot needs it (telephony/rest.py's TwilioDialer, wired in
    rpm_logger/app.py): ring the caller's phone, then bridge the patient."""

    def dial(self, patient_ref: str, *, by: str) -> CallOutcome | str:
        """The placed call, else why Twilio did not take it: "bad_answer" (no call sid) or
        "unavailable" (refused or unreachable). The service's refusals raise InvalidInput."""
        ...


class AdminNotifier(Protocol):
    """Tells an admin by DM what offboarding dropped (bot/call_dms.py's SlackCallDMs, wired
    in bot/app.py); raises when it could not."""

    def timer_dropped_to_admin(self, admin: str, dropped: TimerDropped) -> None: ...


@dataclass(frozen=True)
class Caller:
    user_id: str
    channel_id: str
    display_name: str | None = None  # for `staff add`: the new member's name, looked up by
    # the listener (Slack profile), since it is not in the command text
    dialer: Dialer | None = None  # click-to-call; None when Twilio is not set up
    # the command's journal key (bot/journal.py): a log is saved under it at most once
    key: str | None = None
    asked_at: datetime | None = None  # a command replayed after a kill: when it was typed
    notifier: AdminNotifier | None = None  # DMs to admins (None: not wired)


def run(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    """The reply to `command`; never raises."""
    try:
        if isinstance(command, grammar.Help):
            return blocks.text_reply(grammar.help_text(command.topic))
        if isinstance(command, grammar.Usage):
            return blocks.text_reply(grammar.usage_text(command))
        return _dispatch(svc, command, caller)
    except NotStaff as exc:
        return blocks.stranger_reply(exc.admins, deactivated=exc.deactivated)
    except NotAdmin as exc:
        return blocks.not_admin_reply(exc.admins)
    except InvalidInput as exc:
        return blocks.refusal_reply(str(exc))
    except SaveUnconfirmed:
        log.warning("save not confirmed while running %s", type(command).__name__)
        return blocks.unconfirmed_reply("Your time" if isinstance(
            command, grammar.Log | grammar.Stop) else "That")
    except StoreUnavailable:
        log.warning("database unavailable while running %s", type(command).__name__)
        return _outage(command)
    except StoreConflict:
        return _outage(command)
    except Exception:  # noqa: BLE001 - a reply, never a stack trace
        log.exception("slack command failed: %s", type(command).__name__)
        return blocks.text_reply("⚠️ Something went wrong on our side (it is logged for the "
                                "admin). Check `/rpm status` before trying again.")


def _outage(command: grammar.Command) -> Reply:
    if isinstance(command, grammar.Log | grammar.Stop):
        return blocks.unavailable_reply("Your time was")
    reads = ("risk", "timer", "staff list", "calls unmatched")
    if isinstance(command, grammar.Status) or (isinstance(command, grammar.Simple)
                                               and command.name in reads):
        return blocks.text_reply("⚠️ The database is not answering right now, so I cannot "
                                "show that — try again in a moment.")
    return blocks.unavailable_reply("That was")


def _dispatch(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    handlers: dict[type, Callable[[Service, grammar.Command, Caller], Reply]] = {
        grammar.Log: _log, grammar.Status: _status, grammar.Void: _void, grammar.Use: _use,
        grammar.Start: _start, grammar.Stop: _stop, grammar.Simple: _simple,
        grammar.PatientAdd: _patient_add, grammar.PatientAssign: _patient_assign,
        grammar.StaffAdd: _staff_add, grammar.StaffOffboard: _staff_offboard,
        grammar.CallPatient: _call_patient,
        grammar.CallAttach: _call_attach, grammar.CallClaim: _call_claim,
        grammar.CloseMonth: _close_month, grammar.ReopenMonth: _reopen_month,
        grammar.Report: _report_refused, grammar.Packet: _report_refused,
    }
    return handlers[type(command)](svc, command, caller)


def _log(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Log)
    # one use case: the typed clinic id, else the conversation's patient, else the picker
    request = LogRequest(patient=command.patient or "", duration=command.duration,
                         activity=command.activity, staff=caller.user_id, source="slack",
                         note=command.note, live=command.live, patient_by_phone=False,
                         external_ref=f"slack:{caller.key}" if caller.key else None,
                         asked_at=caller.asked_at)
    result = svc.chat_entries.log_here(request, channel_id=caller.channel_id,
                                       day=command.day, yesterday=command.yesterday)
    if isinstance(result, ChatPick):
        return blocks.picker_reply(command.without_patient(), result.patients,
                                  region=svc.ctx.policy.phone_region)
    return blocks.logged_reply(result, svc.ctx.policy.zone)


def _status(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Status)
    found = svc.chat_entries.status_here(caller.user_id, channel_id=caller.channel_id,
                                         patient_ref=command.patient)
    if isinstance(found, list):
        return blocks.caseload_reply(found)
    return blocks.summary_reply(found)


def _void(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Void)
    entry = svc.entries.void(command.entry_id, reason=command.reason, by=caller.user_id)
    return blocks.voided_reply(entry, undo=False)


def _use(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Use)
    change = svc.current_patient.use(channel_id=caller.channel_id, user_id=caller.user_id,
                                     patient_ref=command.patient or None, by_phone=False)
    return blocks.used_reply(change.scope, change.patient)


def _start(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Start)
    started = svc.timers.start_here(caller.user_id, channel_id=caller.channel_id,
                                    patient_ref=command.patient, activity=command.activity)
    if started is None:
        return blocks.text_reply("Which patient? `/rpm start P-1042 [ACTIVITY]`, or set one "
                                "with `/rpm use P-1042` first.")
    return blocks.timer_started_reply(started)


def _stop(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Stop)
    stop = svc.timers.stop(caller.user_id, command.note)
    result = ChatLogged(stop.logged, None) if stop.logged else None
    return blocks.timer_stopped_reply(stop, result, svc.ctx.policy.zone)


def _simple(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.Simple)
    user = caller.user_id
    if command.name == "undo":
        return blocks.voided_reply(svc.chat_entries.undo(user), undo=True)
    if command.name == "risk":
        return blocks.risk_reply(svc.months.at_risk(actor=user))
    if command.name == "timer":
        return blocks.timer_reply(svc.timers.current(user), svc.ctx.policy.zone)
    if command.name == "cancel":
        return blocks.timer_cancelled_reply(svc.timers.cancel(user))
    if command.name == "calls unmatched":
        return blocks.unmatched_reply(svc.calls.unmatched(admin=user), svc.ctx.policy.zone)
    return blocks.staff_list_reply(svc.admin.list_staff(user))  # "staff list"


def _patient_add(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.PatientAdd)
    patient = svc.admin.add_patient(caller.user_id, command.patient_id, command.initials)
    return blocks.admin_patient_reply(patient, assigned=False)


def _patient_assign(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.PatientAssign)
    patient = svc.admin.assign(caller.user_id, command.patient_id, command.user)
    return blocks.admin_patient_reply(patient, assigned=True)


def _staff_add(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.StaffAdd)
    name = caller.display_name or clean_slack_user_id(command.user)
    staff = svc.admin.add_staff(caller.user_id, command.user, name=name, role=command.role,
                                is_admin=command.admin)
    return blocks.staff_added_reply(staff)


def _staff_offboard(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    """Without `confirm`: what offboarding would do; with it, done in one transaction, then
    a dropped timer told to every active admin by DM."""
    assert isinstance(command, grammar.StaffOffboard)
    zone = svc.ctx.policy.zone
    if not command.confirm:
        return blocks.offboard_preview_reply(svc.offboarding.preview(
            command.user, reassign_to=command.successor, drop_timer=command.drop_timer,
            admin=caller.user_id), zone, drop_timer=command.drop_timer)
    done = svc.offboarding.offboard(command.user, reassign_to=command.successor,
                                    reason=command.reason, drop_timer=command.drop_timer,
                                    admin=caller.user_id)
    told = _tell_admins(caller.notifier, done.dropped) if done.dropped is not None else None
    return blocks.offboarded_reply(done, zone, admins_told=told)


def _tell_admins(notifier: AdminNotifier | None, dropped: TimerDropped) -> int:
    """DM each active admin of a dropped timer, each on its own; how many went."""
    sent = 0
    for admin in dropped.admins if notifier is not None else ():
        try:
            assert notifier is not None
            notifier.timer_dropped_to_admin(admin, dropped)
            sent += 1
        except Exception:  # noqa: BLE001 - committed; the audit trail keeps the note
            log.exception("could not tell admin %s of a dropped timer", admin)
    return sent


def _call_patient(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.CallPatient)
    if caller.dialer is None:
        return blocks.click_to_call_unset_reply()
    outcome = caller.dialer.dial(command.patient, by=caller.user_id)
    if outcome == "bad_answer":
        log.warning("click-to-call: Twilio answered without a call sid")
        return blocks.twilio_bad_answer_reply()
    if not isinstance(outcome, CallOutcome):
        log.warning("click-to-call: Twilio API refused or unreachable")
        return blocks.twilio_down_reply()
    return blocks.call_placed_reply(outcome)


def _call_attach(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.CallAttach)
    return blocks.call_attached_reply(
        svc.calls.attach(command.call_id, command.patient, by=caller.user_id))


def _call_claim(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    assert isinstance(command, grammar.CallClaim)
    return blocks.call_claimed_reply(svc.calls.claim(command.call_id, by=caller.user_id))


def _close_month(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    """What the close would lock, with a Confirm button: the click does the close."""
    assert isinstance(command, grammar.CloseMonth)
    return blocks.close_confirm_reply(svc.closes.preview(Month.parse(command.month),
                                                         admin=caller.user_id))


def confirm_close(svc: Service, caller: Caller, month: str) -> Reply:
    """The Confirm button under `/rpm month close`: an admin's click closes the month."""
    def work() -> Reply:
        return blocks.month_closed_reply(svc.closes.close(Month.parse(month),
                                                          by=caller.user_id, as_admin=True))
    return _guarded(work)


def _reopen_month(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    """The close it would undo and the question "were its claims sent?" as two buttons: the
    click does the reopen."""
    assert isinstance(command, grammar.ReopenMonth)
    return blocks.reopen_question_reply(
        svc.closes.to_reopen(Month.parse(command.month), admin=caller.user_id), command.reason)


def confirm_reopen(svc: Service, caller: Caller, carried: str, *, billed: bool) -> Reply:
    """One of the two buttons under `/rpm month reopen`: an admin's click reopens."""
    try:
        month, reason = blocks.reopen_carried(carried)
    except ValueError:
        return blocks.text_reply("That question has expired: run `/rpm month reopen` again.")

    def work() -> Reply:
        return blocks.month_reopened_reply(svc.closes.reopen(
            Month.parse(month), reason=reason, by=caller.user_id, billed=billed,
            as_admin=True))
    return _guarded(work)


def _report_refused(svc: Service, command: grammar.Command, caller: Caller) -> Reply:
    """`report` and `packet` are run by `report` and `packet_notice` below (they send to
    the admin's DM); never through `run`."""
    name = "packet" if isinstance(command, grammar.Packet) else "report"
    return blocks.text_reply(f"The {name} is only sent from the `/rpm {name}` command.")


@dataclass(frozen=True)
class ReportFile:
    filename: str
    content: str
    totals: MonthTotals


def report(svc: Service, command: grammar.Report, caller: Caller) -> ReportFile | Reply:
    """The month's CSV (as `rpm-logger report --format csv`, less the columns Slack may not
    see: conditions and consent dates) and totals, admins only."""
    def work() -> ReportFile:
        month = Month.parse(command.month) if command.month else svc.months.current()
        content, totals = svc.months.report_file(  # refuses non-admins first
            month, lambda rows: report_csv(rows, SLACK_REPORT_COLUMNS), admin=caller.user_id)
        return ReportFile(f"rpm-report-{month}.csv", content, totals)
    return _guarded(work, outage=blocks.text_reply(
        "⚠️ The database is not answering right now, so I cannot build the report — try "
        "again in a moment."))


def packet_notice(svc: Service, command: grammar.Packet,
                  caller: Caller) -> PacketNotice | Reply:
    """What an admin's DM says of a patient's audit packet (its dashboard link, never the
    packet), or why not."""
    def work() -> PacketNotice:
        month = Month.parse(command.month) if command.month else None
        return svc.audit_packets.notice(caller.user_id, command.patient, month)
    return _guarded(work, outage=blocks.text_reply(
        "⚠️ The database is not answering right now, so I cannot find that packet — try "
        "again in a moment."))


def confirm_call(svc: Service, caller: Caller, call_id: str, *,
                 live: bool) -> tuple[Reply, bool]:
    """The Yes / No buttons of a call DM: the reply, and whether the call was decided."""
    result = _guarded(lambda: svc.calls.confirm(call_id, live=live,
                                                             by=caller.user_id))
    if isinstance(result, Reply):
        return result, False
    return blocks.call_decided_reply(result), True


def add_call_note(svc: Service, caller: Caller, call_id: str, note: str) -> CallView | Reply:
    """The Add note modal's submission: the call, or a reply saying why not."""
    return _guarded(lambda: svc.calls.add_note(call_id, note, by=caller.user_id))


def undo_double(svc: Service, caller: Caller, entry_id: str) -> Reply:
    """The Undo button under a double-submission warning."""
    return _guarded(lambda: blocks.voided_reply(
        svc.chat_entries.undo_double(caller.user_id, entry_id), undo=True))


def _guarded(work: Callable[[], T], *,
             outage: Reply | None = None) -> T | Reply:
    """`work` (whose use case checks its caller); every refusal or fault as a reply
    (`outage`: for reads)."""
    try:
        return work()
    except NotStaff as exc:
        return blocks.stranger_reply(exc.admins, deactivated=exc.deactivated)
    except NotAdmin as exc:
        return blocks.not_admin_reply(exc.admins)
    except InvalidInput as exc:
        return blocks.refusal_reply(str(exc))
    except SaveUnconfirmed:
        return blocks.unconfirmed_reply("That")
    except (StoreUnavailable, StoreConflict):
        return outage or blocks.unavailable_reply("That was")
    except Exception:  # noqa: BLE001
        log.exception("slack action failed")
        return blocks.text_reply("⚠️ Something went wrong on our side (it is logged for the "
                                "admin).")


def home(svc: Service, user_id: str) -> dict[str, object]:
    """The App Home view for `user_id` (strangers get the polite refusal there too)."""
    try:
        home = svc.home.view(user_id)
        return blocks.home_view(home.caseload, home.timer, svc.ctx.policy.zone)
    except (NotStaff, StoreUnavailable) as exc:
        return _home_message(exc)


def _home_message(exc: NotStaff | StoreUnavailable) -> dict[str, object]:
    if isinstance(exc, NotStaff):
        return blocks.message_home(blocks.stranger_reply(exc.admins, deactivated=exc.deactivated))
    return blocks.message_home(blocks.text_reply(
        "⚠️ The database is not answering right now; open this tab again in a moment."))


def home_start(svc: Service, caller: Caller,
               patient_id: str) -> tuple[Reply, dict[str, object] | None]:
    """The home's Start button: the reply for the app's DM and the tab it leaves, from one
    use case (the tab None: not read, after a fault other than an outage)."""
    failed: list[Exception] = []

    def work() -> HomeStart:
        try:
            return svc.home.start(caller.user_id, patient_id)
        except Exception as exc:
            failed.append(exc)
            raise

    result = _guarded(work)
    if isinstance(result, Reply):
        fault = failed[0] if failed else None
        return result, _home_message(fault) if isinstance(
            fault, NotStaff | StoreUnavailable) else None
    reply = blocks.timer_started_reply(result.started) if result.started is not None \
        else blocks.refusal_reply(str(result.refusal))
    return reply, blocks.home_view(result.home.caseload, result.home.timer,
                                   svc.ctx.policy.zone)


def home_stop(svc: Service, caller: Caller) -> Reply:
    return run(svc, grammar.Stop(None), caller)
