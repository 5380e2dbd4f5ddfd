"""Block Kit: every Slack block, button, modal and action id is built here, and only here.

The bot's replies, the call DMs (sent for telephony by bot/call_dms.py) and the reminder
messages (sent by reminders/slack.py) all come from this module; nothing else writes Slack
JSON. It is a shared helper, not an adapter: it imports the service's views and the rules,
never bot/, telephony/, reminders/ or web/.

Patients appear only as clinic id and initials (`label`). Minutes are floored, so a bar
never shows 20 minutes before 1,200 seconds are in.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from billing.codes import codes_in_words
from billing.durations import format_seconds
from billing.months import clinic_clock, clinic_day, clinic_time
from billing.risk import RiskAssessment
from presentation import packet, render
from service.audit_packets import PacketNotice
from service.calls import CallOutcome, CallView
from service.chat_entries import ChatLogged
from service.closes import CloseView
from service.month_words import device_words, still_needed
from service.offboarding import Offboarded, OffboardPlan, TimerDropped
from service.phones import redact_phones
from service.reminders import CHANNEL, PlannedMessage
from service.timers import TimerStop, TimerView
from service.views import (
    EntryView,
    MonthSummary,
    MonthTotals,
    PatientRisk,
    PatientView,
    StaffView,
)
from service.voice_access import WRONG_PINS_TO_LOCK

TWENTY_MINUTES = 1200
BAR_CELLS = 10
PICK_ACTION = "pick_patient"
UNDO_ACTION = "undo_double"
CLOSE_MONTH_ACTION = "close_month"  # the Confirm button of `/rpm month close`; value: month
# the two buttons of `/rpm month reopen`; value: {"month", "reason"} (reopen_carried)
REOPEN_BILLED_ACTION = "reopen_month_billed"
REOPEN_NOT_BILLED_ACTION = "reopen_month_not_billed"
HOME_START_ACTION = "home_start"
HOME_STOP_ACTION = "home_stop"
CALL_NOTE_CALLBACK = "call_note"  # the Add note modal; private_metadata: the call id
CALL_NOTE_BLOCK = "call_note_block"
CALL_NOTE_INPUT = "call_note_input"
# the call DM's buttons; each value is the call's short id (C-12)
CONFIRM_LIVE_ACTION = "call_confirm_live"  # -> service.calls.confirm(live=True)
REJECT_LIVE_ACTION = "call_reject_live"  # -> service.calls.confirm(live=False)
ADD_NOTE_ACTION = "call_add_note"  # -> open the note modal, then service.calls.add_note
MAX_BUTTON_VALUE = 2000
Block = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """What a handler sends: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks or None}


SECTION_CHARS = 3000  # Slack refuses a section whose text is longer
LISTED = 40  # lines a list reply shows before it says how many more and where


def _section(text: str) -> Block:
    """One section; a text over Slack's limit ends in a visible "…" (lists use _listed)."""
    if len(text) > SECTION_CHARS:
        text = text[:SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _listed(title: str, lines: Sequence[str], more: str) -> list[Block]:
    """A titled list in as many sections as its lines fill, never cut mid-line: the first
    LISTED lines, then how many more there are and `more`, where to see them all."""
    items = [title, *lines[:LISTED]]
    if len(lines) > LISTED:
        items.append(f"…and {len(lines) - LISTED} more: {more}")
    sections: list[str] = []
    for item in items:
        if sections and len(sections[-1]) + 1 + len(item) <= SECTION_CHARS:
            sections[-1] += "\n" + item
        else:
            sections.append(item)
    return [_section(text) for text in sections]


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": text[:75]},
                     "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def text_reply(text: str) -> Reply:
    return Reply(text, [_section(text)])


def progress_bar(seconds: int) -> str:
    """`▓▓▓▓░░░░░░ 8/20 min`: filled cells are whole 2-minute steps (floored)."""
    filled = min(max(seconds, 0) * BAR_CELLS // TWENTY_MINUTES, BAR_CELLS)
    minutes = max(seconds, 0) // 60
    return f"`{'▓' * filled}{'░' * (BAR_CELLS - filled)}` {minutes}/20 min"


def month_lines(summary: MonthSummary) -> str:
    live = "✓" if summary.live_interactions else "✗"
    return (f"*{summary.label}* · {summary.month}\n{progress_bar(summary.total_seconds)}"
            f" · live contact {live} · codes: "
            f"{codes_in_words(summary.codes) or render.none_yet(summary)}\n"
            f"Still needed: {still_needed(summary)}{device_line(summary)}")


def device_line(summary: MonthSummary) -> str:
    """'Device: 12 reading days (...) · device codes: 99453 + 99454', for a patient with
    device readings only: days are counted, values never shown in Slack."""
    if not summary.device_periods:
        return ""
    codes = codes_in_words(summary.device_codes) or "none"
    return f"\nDevice: {device_words(summary)} · device codes: {codes}"


def logged_reply(result: ChatLogged, zone: ZoneInfo) -> Reply:
    """The saved entry with its clinic day (never the UTC one) and the month so far."""
    logged, entry = result.logged, result.logged.entry
    head = (f"✅ Saved entry #{entry.id}: {format_seconds(entry.duration_seconds)} of "
            f"{entry.activity}{entry.live_label} for {logged.summary.label}"
            f" on {clinic_day(entry.started_at, zone)}.")
    blocks = [_section(head), _section(month_lines(logged.summary))]
    notes = []
    if entry.live and not entry.counts_live and entry.count is not None:
        why = entry.count.live_note  # says "not a live interaction" (or why) itself, once
        notes.append(f"⚠️ {why[:1].upper()}{why[1:]}. Log the live contact that reached the "
                     "patient.")
    if not logged.time_counts:
        notes.append("Your role is non-clinical: this time is recorded but does not count "
                     "toward 99457.")
    if logged.overlaps:
        notes.append(f"Flagged: it overlaps your entry #{logged.overlaps.id} "
                     f"({logged.overlaps.patient_id}) in time.")
    if notes:
        blocks.append(_context("\n".join(notes)))
    if result.duplicate_of is not None:
        when = ("so the save I could not confirm earlier was saved after all"
                if result.after_unconfirmed else "and was saved less than a minute ago")
        blocks.append(_section(f"⚠️ This looks like a double submission: entry "
                               f"#{result.duplicate_of} is identical, {when}."))
        blocks.append({"type": "actions", "elements": [
            _button(f"Undo #{entry.id}", UNDO_ACTION, str(entry.id), "danger")]})
    return Reply(head, blocks)


def summary_reply(summary: MonthSummary) -> Reply:
    blocks = [_section(month_lines(summary))]
    if summary.warnings:
        blocks.append(_context("\n".join(f"• {w}" for w in summary.warnings)))
    return Reply(f"{summary.label}: {summary.total_seconds // 60}/20 min", blocks)


def _risk_line(row: PatientRisk) -> str:
    summary, risk = row.summary, row.risk
    flag = {"critical": "🔴", "high": "🟠", "watch": "🟡"}.get(risk.severity, "🟢")
    live = "✓" if summary.live_interactions else "✗"
    return (f"{flag} *{summary.label}* {progress_bar(summary.total_seconds)} · live {live} · "
            f"{_days(risk)} · {risk.advice()}{_device_part(summary)}")


def _device_part(summary: MonthSummary) -> str:
    """A risk line's device shortfall (billing.devices.period_verdict), counts only:
    ' · device 3/16 days by 2026-12-18 (99454)'; nothing for a patient without readings."""
    verdict = summary.device_verdict
    if verdict is None:
        return ""
    count = verdict.period.day_count
    days = f"{count} day{'s' if count != 1 else ''}"
    if verdict.ended:
        earned = " + ".join(c.code for c in verdict.period.codes) or "no device code"
        return f" · device period ended with {days}: {earned}"
    if verdict.aim is not None:
        return f" · device {count}/{count + verdict.needed} days by {verdict.by} ({verdict.aim})"
    if verdict.code is not None and verdict.code == verdict.best:
        return f" · device {days}: {verdict.code}"
    got = f"{verdict.code}, " if verdict.code else ""
    return f" · device {days}: {got}nothing more reachable this period"


def _days(risk: RiskAssessment) -> str:
    return f"{risk.days_left} day{'s' if risk.days_left != 1 else ''} left"


def caseload_reply(rows: Sequence[PatientRisk]) -> Reply:
    if not rows:
        return text_reply("No patients are assigned to you this month. "
                          "`/rpm status PATIENT` shows any patient.")
    count = f"{len(rows)} patient{'' if len(rows) == 1 else 's'}"
    return Reply(f"Your {count} this month", _listed(
        "*Your patients this month* (worst first)",
        [_risk_line(r) for r in rows], "the dashboard's month page lists them all"))


def risk_reply(rows: Sequence[PatientRisk]) -> Reply:
    if not rows:
        return text_reply("🟢 No patient is at risk of missing 99457 this month.")
    return Reply(f"{len(rows)} patients at risk this month", _listed(
        f"*At risk this month* ({len(rows)})", [_risk_line(r) for r in rows],
        "the dashboard's month page (sorted by risk) or `rpm-logger report` lists them all"))


def picker_reply(log_text: str, patients: Sequence[PatientView], *, region: str) -> Reply:
    """Buttons of the caller's patients; each carries the parsed log to complete. The log is
    echoed with phone numbers in its note masked (the button value keeps it as typed)."""
    if not patients:
        return text_reply("Which patient? Name one (`/rpm log P-1042 12m review`) or set one "
                          "for this conversation with `/rpm use P-1042`. No patients are "
                          "assigned to you to pick from.")
    buttons = []
    for index, patient in enumerate(patients[:25]):
        value = json.dumps({"patient": patient.patient_id, "log": log_text})
        if len(value) > MAX_BUTTON_VALUE:
            return text_reply("That note is too long to carry through the picker: name the "
                              "patient in the command (`/rpm log P-1042 ...`).")
        buttons.append(_button(patient.label, f"{PICK_ACTION}_{index}", value))
    shown = redact_phones(log_text, region=region) or ""
    blocks = [_section(f"Which patient is `{shown[:200]}` for?")]
    for start in range(0, len(buttons), 5):
        blocks.append({"type": "actions", "elements": buttons[start:start + 5]})
    return Reply("Which patient is this for?", blocks)


def used_reply(scope: str, patient: PatientView | None) -> Reply:
    where = ("in this channel" if scope == "channel"
             else "for you, in any conversation without a patient of its own")
    if patient is None:
        whose = "the patient of this channel" if scope == "channel" else "your own patient"
        return text_reply(f"Cleared {whose}.")
    return text_reply(f"Now logging for *{patient.label}* {where}: "
                      "`/rpm log 12m review` needs no patient. `/rpm use none` clears it.")


def voided_reply(entry: EntryView, *, undo: bool) -> Reply:
    verb = "Undone" if undo else "Voided"
    return text_reply(f"↩️ {verb}: entry #{entry.id} ({format_seconds(entry.duration_seconds)} "
                      f"of {entry.activity} for {entry.patient_id}). It no longer counts; "
                      "the record stays for the audit trail.")


def timer_line(timer: TimerView, zone: ZoneInfo) -> str:
    elapsed = format_seconds(timer.elapsed_seconds)
    if timer.over_limit:
        return (f"🔴 Timer for *{timer.label}* ({timer.activity}) has run {elapsed}, over the "
                f"{timer.max_seconds // 60}-minute limit: `/rpm stop` will ask for the real "
                "duration.")
    return (f"⏱️ Timer for *{timer.label}* ({timer.activity}) running since "
            f"{clinic_clock(timer.started_at, zone)}: {elapsed} so far.")


def timer_started_reply(timer: TimerView) -> Reply:
    return text_reply(f"⏱️ Started your timer for *{timer.label}* ({timer.activity}). "
                      "`/rpm stop [NOTE]` logs it, `/rpm cancel` drops it.")


def timer_reply(timer: TimerView | None, zone: ZoneInfo) -> Reply:
    if timer is None:
        return text_reply("No timer running. `/rpm start PATIENT [ACTIVITY]` starts one.")
    return text_reply(timer_line(timer, zone))


def timer_cancelled_reply(timer: TimerView) -> Reply:
    return text_reply(f"Dropped your timer for {timer.label} "
                      f"({format_seconds(timer.elapsed_seconds)}); nothing was logged.")


def timer_stopped_reply(stop: TimerStop, result: ChatLogged | None,
                        zone: ZoneInfo) -> Reply:
    if result is None:
        timer = stop.timer
        day = clinic_day(timer.started_at, zone).isoformat()
        return text_reply(
            f"⚠️ Your timer for *{timer.label}* ran {format_seconds(timer.elapsed_seconds)}, "
            f"over the {timer.max_seconds // 60}-minute limit for one entry, so nothing was "
            "logged and the timer is stopped. Log the time you really spent, e.g. "
            f"`/rpm log {timer.patient_id} 25m {timer.activity} on {day}`.")
    reply = logged_reply(result, zone)
    if stop.cleared:
        return reply
    return Reply(reply.text, reply.blocks + [_context(
        "The timer could not be cleared just now; `/rpm stop` again clears it (it will not "
        "log twice).")])


def admin_patient_reply(patient: PatientView, *, assigned: bool) -> Reply:
    if assigned:
        return text_reply(f"*{patient.label}* is now assigned to <@{patient.assigned_to}>.")
    return text_reply(f"Added patient *{patient.label}*. Phones, consent and conditions are "
                      "set with the CLI (`rpm-logger patient update`), never in Slack.")


def staff_added_reply(staff: StaffView) -> Reply:
    admin = " (admin)" if staff.is_admin else ""
    return text_reply(f"Added <@{staff.slack_user_id}> as {staff.role}{admin}.")


def staff_list_reply(staff: Sequence[StaffView]) -> Reply:
    lines = [f"• <@{s.slack_user_id}> {s.role}{' · admin' if s.is_admin else ''}"
             for s in staff]
    return text_reply("*Active staff*\n" + ("\n".join(lines) or "none"))


def stranger_reply(admins: Sequence[str], *, deactivated: bool = False) -> Reply:
    """The reply to someone who is not active staff; a member made inactive (offboarded) is
    told their account was deactivated, not invited to be added (outside try)."""
    who = ", ".join(f"<@{a}>" for a in admins) or "an rpm-logger admin (with the CLI)"
    if deactivated:
        return text_reply("Your rpm-logger staff account has been deactivated, so I cannot "
                          f"log time or show patients for you. If that is a mistake, ask {who}.")
    return text_reply(f"Hi! You are not set up as clinic staff in rpm-logger yet, so I cannot "
                      f"log time for you. Ask {who} to add you.")


def not_admin_reply(admins: Sequence[str]) -> Reply:
    """An admin's command asked by staff who are not admins: who to ask, mentioned."""
    who = ", ".join(f"<@{a}>" for a in admins) or "none yet (an admin is added with the CLI)"
    return text_reply(f"🚫 Only an admin may do that. Admins: {who}. Nothing was changed.")


def escape(text: str) -> str:
    """Slack's three control characters, so echoed input can never become a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def refusal_reply(message: str) -> Reply:
    """A refusal from the service; its message may quote what the person typed."""
    return text_reply(f"🚫 {escape(message)} Nothing was changed.")


def unavailable_reply(what: str = "Your time was") -> Reply:
    return text_reply(f"⚠️ {what} *not saved — try again* in a moment: the database is not "
                      "answering. Nothing was half-written.")


def unconfirmed_reply(what: str = "Your time") -> Reply:
    """A save whose outcome is unknown (store.db.SaveUnconfirmed): never "not saved"."""
    again = (" Check `/rpm status` before logging it again; if you log it again and it had "
             "been saved, I will flag the repeat with an Undo button.") \
        if what == "Your time" else " Check before trying again."
    return text_reply(f"⚠️ I *could not confirm* {what.lower()} was saved: the database "
                      "stopped answering while saving, so it may or may not be on record."
                      + again)


def working_reply() -> Reply:
    return text_reply("⏳ Saving… I will confirm here once it is saved.")


def home_view(rows: Sequence[PatientRisk], timer: TimerView | None,
              zone: ZoneInfo) -> dict[str, Any]:
    """The App Home: running timer first, then assigned patients, at-risk first."""
    blocks: list[Block] = [{"type": "header",
                            "text": {"type": "plain_text", "text": "Your RPM month"}}]
    if timer is not None:
        blocks.append(_section(timer_line(timer, zone)))
        blocks.append({"type": "actions", "elements": [
            _button("Stop timer", HOME_STOP_ACTION, "stop",
                    "danger" if timer.over_limit else "primary")]})
    if not rows:
        blocks.append(_section("No patients are assigned to you this month."))
    for row in rows[:LISTED]:
        section = _section(_risk_line(row))
        if timer is None:
            section["accessory"] = _button("Start timer", HOME_START_ACTION,
                                           row.summary.patient_id)
        blocks.append(section)
    if len(rows) > LISTED:
        blocks.append(_section(f"…and {len(rows) - LISTED} more of your patients: the "
                               "dashboard's month page lists them all."))
    blocks.append(_context("`/rpm help` lists every command."))
    return {"type": "home", "blocks": blocks[:100]}


def message_home(reply: Reply) -> dict[str, Any]:
    """An App Home holding just one message (strangers, outages)."""
    return {"type": "home", "blocks": reply.blocks}


# -- calls ----------------------------------------------------------------------------------

def _call_facts(call: CallView) -> str:
    seconds = format_seconds(call.duration_seconds or 0)
    return f"{call.call_id} · {call.patient_label} · {seconds}"


def call_decided_reply(outcome: CallOutcome) -> Reply:
    """What the call DM becomes once its Yes/No is answered (the buttons go away)."""
    call = outcome.call
    if call.state == "counted":
        head = (f"✅ Counted as a live interaction: {_call_facts(call)} "
                f"(entry #{call.entry_id}).")
    elif call.state == "not_live":
        head = (f"Recorded as not live: {_call_facts(call)}. It stays on record as an "
                "attempt; no minutes were logged.")
    elif call.state == "unmatched":
        head = (f"Confirmed as live: {_call_facts(call)}. The number matched no patient, so "
                "it counts once an admin attaches it (`/rpm calls attach "
                f"{call.call_id} PATIENT_ID`).")
    else:
        reason = f" ({escape(call.state_reason)})" if call.state_reason else ""
        head = f"Confirmed {_call_facts(call)}, but it does not count: {call.state}{reason}."
    return Reply(head, [_section(head), {"type": "actions", "elements": [
        _button("Add note", ADD_NOTE_ACTION, call.call_id)]}])


def call_unconfirmed_text(call: CallView) -> str:
    return (f"Was this a live conversation with {call.patient_label}? ({call.call_id}, "
            f"{format_seconds(call.duration_seconds or 0)})")


def call_unconfirmed_dm(call: CallView) -> Reply:
    """The DM after a call that may have been live: Yes counts it as the month's live
    interaction; No keeps it as an attempt."""
    text = call_unconfirmed_text(call)
    return Reply(text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"call_confirm:{call.call_id}", "elements": [
            _button("Yes", CONFIRM_LIVE_ACTION, call.call_id, "primary"),
            _button("No", REJECT_LIVE_ACTION, call.call_id),
            _button("Add note", ADD_NOTE_ACTION, call.call_id),
        ]},
    ])


def call_counted_text(call: CallView) -> str:
    return (f"Logged your call with {call.patient_label}: "
            f"{format_seconds(call.duration_seconds or 0)} live ({call.call_id}, entry "
            f"#{call.entry_id}). What was discussed?")


def call_counted_dm(call: CallView) -> Reply:
    """The DM after a counted call: auditors ask what was discussed, one button to add it."""
    text = call_counted_text(call)
    return Reply(text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"call_note:{call.call_id}", "elements": [
            _button("Add note", ADD_NOTE_ACTION, call.call_id),
        ]},
    ])


def voice_locked_dm(slack_user_id: str, until: datetime, zone: ZoneInfo) -> Reply:
    """The DM when wrong voice PINs lock a member's voice access: when it lifts, that it may
    not have been them, and how an admin lifts it sooner. No number, no digits."""
    text = (f"Your voice access to the clinic line is locked until "
            f"{clinic_time(until, zone)} after {WRONG_PINS_TO_LOCK} wrong voice PINs within "
            "an hour. If you did not call, someone may be guessing your PIN: tell an admin. "
            f"An admin can lift the lock with `rpm-logger staff update {slack_user_id} "
            "--voice-unlock`, or set a new PIN with `--voice-pin -`.")
    return Reply(text, [_section(f":lock: {text}")])


def voice_locked_admin_dm(member: str, until: datetime, zone: ZoneInfo) -> Reply:
    """The DM to each admin when wrong voice PINs lock a member: whose access (their Slack
    mention, never a name or number), until when, and how to lift it sooner."""
    text = (f"<@{member}>'s voice access to the clinic line is locked until "
            f"{clinic_time(until, zone)} after {WRONG_PINS_TO_LOCK} wrong voice PINs within "
            "an hour. If they did not call, someone may be guessing their PIN with a forged "
            f"caller id. To lift it sooner: `rpm-logger staff update {member} "
            "--voice-unlock`, or set a new PIN with `--voice-pin -`.")
    return Reply(text, [_section(f":lock: {text}")])


def voice_paused_dm(until: datetime, wrong_pins: int, zone: ZoneInfo) -> Reply:
    """The DM to each admin when the clinic-wide wrong-PIN limit pauses the voice menu: how
    many, until about when, that it lifts by itself, and what still works."""
    text = (f"The voice menu is paused for the whole clinic: {wrong_pins} wrong voice PINs "
            "within an hour, which looks like guessing with forged caller ids. Every PIN is "
            f"refused until about {clinic_time(until, zone)}; it opens again by itself. "
            "Staff can still use Slack, and 0 on the phone still reaches a person.")
    return Reply(text, [_section(f":no_entry: {text}")])


def call_note_modal(call_id: str) -> dict[str, Any]:
    """The Add note modal; the call id rides in private_metadata, the clicker is checked on
    submit by the service (only the staff member on the call, or an admin)."""
    return {
        "type": "modal", "callback_id": CALL_NOTE_CALLBACK, "private_metadata": call_id[:100],
        "title": {"type": "plain_text", "text": f"Note for {call_id}"[:24]},
        "submit": {"type": "plain_text", "text": "Save note"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{
            "type": "input", "block_id": CALL_NOTE_BLOCK,
            "label": {"type": "plain_text", "text": "What was discussed?"},
            "element": {"type": "plain_text_input", "action_id": CALL_NOTE_INPUT,
                        "multiline": True, "max_length": 2000},
        }],
    }


def call_noted_reply(call: CallView) -> Reply:
    return text_reply(f"📝 Note saved on {_call_facts(call)}.")


def _call_line(call: CallView, zone: ZoneInfo) -> str:
    """No numbers at all, masked or not: the id, when (clinic time), how long, which way."""
    seconds = format_seconds(call.duration_seconds or 0)
    after = " · arrived after close" if call.after_close else ""
    return (f"• *{call.call_id}* {clinic_time(call.started_at, zone)} · {seconds} · "
            f"{call.way}{after}")


def unmatched_reply(calls: Sequence[CallView], zone: ZoneInfo) -> Reply:
    if not calls:
        return text_reply("No unmatched calls: every call is matched to a patient.")
    return Reply(render.count_of(len(calls), "unmatched call"), [
        *_listed(f"*Unmatched calls* ({len(calls)}), newest first",
                 [_call_line(c, zone) for c in calls],
                 "`rpm-logger calls list --state unmatched` lists them all"),
        _context("`/rpm calls attach CALL_ID PATIENT_ID` names the patient; the month then "
                 "includes the call.")])


def _counting(call: CallView) -> str:
    if call.state == "counted":
        return f"It counts now: entry #{call.entry_id}."
    reason = f" ({escape(call.state_reason)})" if call.state_reason else ""
    return f"It is {call.state}{reason}."


def call_attached_reply(outcome: CallOutcome) -> Reply:
    call = outcome.call
    return text_reply(f"📎 Attached {call.call_id} to *{call.patient_label}*. "
                      f"{_counting(call)}")


def call_claimed_reply(outcome: CallOutcome) -> Reply:
    call = outcome.call
    return text_reply(f"🙋 {call.call_id} is now on record as yours ({call.patient_label}). "
                      f"{_counting(call)}")


def call_placed_reply(outcome: CallOutcome) -> Reply:
    call = outcome.call
    return text_reply(f"📞 Calling your phone now ({call.call_id}); answer it and I will "
                      f"connect *{call.patient_label}*. The call is logged automatically "
                      "once the patient answers in person.")


def click_to_call_unset_reply() -> Reply:
    return text_reply("Click-to-call is not set up for this clinic (Twilio settings are "
                      "missing: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL, "
                      "TWILIO_CALLER_ID). Ask an admin, or log the call with `/rpm log`.")


def twilio_bad_answer_reply() -> Reply:
    return text_reply("⚠️ Twilio answered without a call id (sid), so this call cannot be "
                      "tracked and nothing was saved; your phone may still ring. The daily "
                      "reconciliation picks the call up if it happened.")


def twilio_down_reply() -> Reply:
    return text_reply("⚠️ Twilio did not accept the call just now, so nothing was dialled. "
                      "Try again in a moment.")


def call_not_replayed_reply(patient: str) -> Reply:
    """`/rpm call` answered "Saving…", then the server was killed: never dialled again
    minutes later (bot/replay.py), and it may or may not have rung before."""
    return text_reply(f"⚠️ The server restarted while placing your call to {patient}, so it "
                      "may not have rung. If it did not, run `/rpm call` again.")


# -- after a restart ------------------------------------------------------------------------

def after_restart_dm(reply: Reply, asked_at: datetime, zone: ZoneInfo) -> Reply:
    """A reply to a command told "Saving…" before the server was killed, sent to the app's DM
    when the command's response_url is past Slack's 30 minutes or refused it."""
    head = (f"The server restarted while your `/rpm` command of "
            f"{clinic_time(asked_at, zone)} was saving. Here is its answer:")
    return Reply(f"{head}\n{reply.text}", [_section(head), *reply.blocks])


# -- billing office -------------------------------------------------------------------------

def _dollars(amount: object) -> str:
    return f"${amount:,.2f}"


def _closer(closed_by: str) -> str:
    """As every screen names them ("Bea Billing (UBIL0001)", service.closes.signed); a bare
    Slack id (a close by someone no longer in the staff table) is mentioned."""
    return f"<@{closed_by}>" if re.fullmatch(r"[UW][A-Z0-9]{2,31}", closed_by) else closed_by


def totals_text(totals: MonthTotals) -> str:
    closed = f"closed by {_closer(totals.closed_by)}" if totals.closed_by else "open (not closed)"
    unmatched = (f" · {totals.unmatched_calls} unmatched call"
                 f"{'' if totals.unmatched_calls == 1 else 's'} to attach"
                 if totals.unmatched_calls else "")
    if not totals.closed_by and totals.reopened:
        closed = totals.reopened
    held = (f"{totals.held} held (no consent or no order on file) · " if totals.held else "")
    text = (f"*{totals.month}*: {totals.patients} patients · {totals.billable} billable · "
            f"{held}earned so far {_dollars(totals.expected_amount)} · at risk "
            f"{_dollars(totals.at_risk_amount)} ({totals.at_risk} patients) · {closed}"
            f"{unmatched}")
    if totals.changed_since_close:
        text += "\n*Changed since close:*\n" + "\n".join(
            f"• {d.patient}: {d.changed_codes(codes_in_words, ' · ')} · "
            f"{d.cause} · *{d.follow_up_in_words}*" for d in totals.changed_since_close)
    return text


def report_sent_reply(totals: MonthTotals, filename: str) -> Reply:
    head = f"📄 Sent `{filename}` to your DM with me."
    return Reply(head, [_section(head), _section(totals_text(totals)),
                        _context("Dollar amounts are estimates from FEE_SCHEDULE.")])


def report_upload_failed_reply(totals: MonthTotals) -> Reply:
    head = ("⚠️ The report could not be uploaded to your DM just now (Slack refused it); "
            "try again, or use `rpm-logger report --format csv`.")
    return Reply(head, [_section(head), _section(totals_text(totals))])


def report_working_reply() -> Reply:
    return text_reply("⏳ Building the report… it will arrive in your DM with me.")


def packet_working_reply() -> Reply:
    return text_reply("⏳ Finding the audit packet… its link will arrive in your DM with me.")


def packet_link_dm(notice: PacketNotice, base_url: str | None) -> Reply:
    """The admin's DM: the packet's dashboard link (the packet stays behind the dashboard's
    access check; Slack sees clinic id, initials, month and codes only)."""
    path = packet.dashboard_path(notice.patient_id, notice.month)
    head = (f"🧾 Audit packet for *{notice.label}*, {notice.month} "
            f"(codes: {codes_in_words(notice.codes) or 'none'})")
    link = (f"<{base_url.rstrip('/')}{path}|Open the printable packet on the dashboard>"
            if base_url else f"Open `{path}` on the dashboard (set PUBLIC_BASE_URL to get a "
                             "link here).")
    return Reply(head, [_section(head), _section(link), _context(
        "The packet carries its SHA-256; `rpm-logger audit packet --verify FILE` checks a "
        "saved copy.")])


def packet_sent_reply(notice: PacketNotice) -> Reply:
    return text_reply(f"🧾 Sent the audit packet link for {notice.label}, {notice.month} to "
                      "your DM with me.")


def packet_dm_failed_reply(notice: PacketNotice) -> Reply:
    return text_reply(f"⚠️ The packet link for {notice.label}, {notice.month} could not be "
                      "sent to your DM just now (Slack refused it); open the patient on the "
                      "dashboard, or use `rpm-logger audit packet`.")


# patients a close confirmation lists by name (a section's text stays under Slack's 3,000
# characters: about 80 characters a line)
_CLOSE_LINES = 25


def close_confirm_reply(preview: CloseView) -> Reply:
    """What closing the month locks, and a Confirm button; nothing changes until clicked."""
    head = f"Close *{preview.month}*? It locks {render.close_figures(preview, slack=True)}."
    blocks = [_section(head)]
    lines = render.close_patient_lines(preview)
    if lines:  # time and device codes per patient (clinic ids and initials, no values)
        more = (f"\n… and {len(lines) - _CLOSE_LINES} more (the report lists every patient)"
                if len(lines) > _CLOSE_LINES else "")
        blocks.append(_section("*Billed by patient:*\n" + "\n".join(
            f"• {line}" for line in lines[:_CLOSE_LINES]) + more))
    if not preview.billable:
        blocks.append(_context(f"⚠️ Nothing in {preview.month} to bill (no patient has "
                               "billable time or device codes): is this the month you mean?"))
    blocks.append(_context(("🔎 " if sum(preview.findings.values()) else "✅ ")
                           + render.findings_line(preview.findings, preview.month)))
    blocks.append(_context(f"{render.LATE_CHANGES} Undo with `/rpm month reopen "
                           f"{preview.month} REASON`."))
    blocks.append({"type": "actions", "elements": [
        _button(f"Confirm: close {preview.month}", CLOSE_MONTH_ACTION, preview.month,
                "danger")]})
    return Reply(head, blocks)


def reopen_question_reply(closed: CloseView, reason: str) -> Reply:
    """The close a reopen would undo and two buttons: were its claims sent or not."""
    head = (f"Reopen *{closed.month}*? It was closed by {_closer(closed.closed_by)}: "
            f"{render.close_figures(closed, slack=True)}. Were its claims sent?")
    carried = json.dumps({"month": closed.month, "reason": reason}, ensure_ascii=False)
    return Reply(head, [
        _section(head),
        _context(render.REOPEN_ADVICE),
        {"type": "actions", "elements": [
            _button("Claims were sent: reopen (billed)", REOPEN_BILLED_ACTION, carried,
                    "danger"),
            _button("Not billed yet: reopen", REOPEN_NOT_BILLED_ACTION, carried)]}])


def reopen_carried(value: str) -> tuple[str, str]:
    """The month and reason a reopen button carries; ValueError when it carries neither."""
    carried = json.loads(value or "{}")
    if not isinstance(carried, dict) or not isinstance(carried.get("month"), str) \
            or not isinstance(carried.get("reason"), str):
        raise ValueError("not a reopen question's value")
    return carried["month"], carried["reason"]


def month_reopened_reply(view: CloseView) -> Reply:
    return text_reply(f"🔓 Reopened {view.month} by {_closer(view.closed_by)}: {view.reason} "
                      f"({render.reopen_billed_text(view.billed)}). Its close stays on "
                      "record.")


def month_closed_reply(closed: CloseView) -> Reply:
    return text_reply(
        f"🔒 Closed {closed.month} (billed) by {_closer(closed.closed_by)}: "
        f"{render.close_figures(closed, slack=True)}. From now on logs, voids "
        "and call attachments dated in it are refused, except an admin amendment that records "
        "its reason; calls that arrive for it are kept and flagged for the billing office. "
        "The report shows the month as closed.")


# -- reminders (sent by reminders/slack.py) ------------------------------------------------

def _reminder_patient_block(row: PatientRisk) -> dict[str, Any]:
    icon = render.SEVERITY_ICON.get(row.risk.severity, "")
    return {"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*{row.summary.label}*  {icon} {row.risk.severity}\n"
        f"{render.patient_line(row)}\n_{row.risk.advice()}_")}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _reminder_patient_blocks(patients: tuple[PatientRisk, ...]) -> list[dict[str, Any]]:
    blocks = [_reminder_patient_block(row) for row in patients[:render.MAX_LISTED]]
    if len(patients) > render.MAX_LISTED:
        blocks.append(_context(f"…and {len(patients) - render.MAX_LISTED} more: "
                               "`rpm-logger report` lists every patient"))
    return blocks


def reminder_blocks(message: PlannedMessage) -> list[dict[str, Any]]:
    """The Block Kit message for a staff member's DM or for the reminder channel."""
    out = [_header(render.title(message)),
           _context(f"{render.reminder_day(message.day)} · month {message.month} · worst first")]
    if message.kind == CHANNEL:
        out.append({"type": "section",
                    "text": {"type": "mrkdwn", "text": render.counts_text(message)}})
        out.append(_context(render.money_text(message)))
        if message.patients:
            out.append({"type": "divider"})
            out.append({"type": "section", "text": {"type": "mrkdwn", "text": (
                f"*No active staff member assigned ({len(message.patients)})*")}})
    else:
        out.append({"type": "divider"})
    out.extend(_reminder_patient_blocks(message.patients))
    if message.short_of_readings:
        out.append({"type": "section", "text": {"type": "mrkdwn",
                                                "text": render.short_of_readings_text(message)}})
    out.append(_context(render.REMINDER_FOOTER))
    return out


def timer_dropped_admin_dm(dropped: TimerDropped, zone: ZoneInfo) -> Reply:
    """The DM to each admin when offboarding dropped a leaver's running timer unlogged: whose
    (a mention), which patient (clinic id and initials only), since when, for how long, why,
    and how to log the real time if it is known."""
    text = (f"Offboarding <@{dropped.member}> dropped their running timer for "
            f"{dropped.patient} (since {clinic_time(dropped.started_at, zone)}, "
            f"{format_seconds(dropped.elapsed_seconds)}) unlogged: {dropped.why}. If the real "
            f"time is known, log it with `rpm-logger log {dropped.patient.split()[0]} "
            f"DURATION ACTIVITY --staff {dropped.member} --at ...`.")
    return Reply(text, [_section(f":stopwatch: {text}")])


def offboard_preview_reply(plan: OffboardPlan, zone: ZoneInfo, *, drop_timer: bool) -> Reply:
    """`/rpm staff offboard @a to @b`: what it would do, and the command that does it."""
    member, successor = plan.member.slack_user_id, plan.successor.slack_user_id
    head = f"Offboard <@{member}>? Nothing has changed yet."
    lines = "\n".join(f"• {line}" for line in _offboard_lines_first(
        render.offboard_lines(plan, zone, done=False, patients_shown=OFFBOARD_PATIENTS_SHOWN)))
    command = (f"/rpm staff offboard <@{member}> to <@{successor}>"
               f"{' drop-timer' if drop_timer else ''} confirm REASON")
    return Reply(f"{head}\n{lines}\nTo do it: `{command}`", [
        _section(head), _section(lines), _context(f"To do it: `{command}`")])


# patients an offboarding's Slack reply lists by id before "…and N more": 300 of them ran
# the block past Slack's 3,000 characters, cutting the timer, PIN and Twilio lines (outside try)
OFFBOARD_PATIENTS_SHOWN = 50


def _offboard_lines_first(lines: list[str]) -> list[str]:
    """The inactive-from, timer, voice PIN and Twilio lines before the patients' (the second
    line), so a cut can only ever shorten the list of patients."""
    return [lines[0], *lines[2:], lines[1]]


def offboarded_reply(done: Offboarded, zone: ZoneInfo, *, admins_told: int | None) -> Reply:
    """What `/rpm staff offboard ... confirm` did (`admins_told`: DMs sent of a dropped
    timer; None: no timer was dropped)."""
    lines = render.offboard_lines(done.plan, zone, done=True,
                                  patients_shown=OFFBOARD_PATIENTS_SHOWN)
    if done.entry_id is not None:
        lines[2] += f" (entry #{done.entry_id})"
    lines = _offboard_lines_first(lines)
    if admins_told is not None and done.dropped is not None:
        lines.append(f"admins told by DM: {admins_told} of {len(done.dropped.admins)}")
    head = f"✅ Offboarded <@{done.plan.member.slack_user_id}>."
    body = "\n".join(f"• {line}" for line in lines)
    return Reply(f"{head}\n{body}", [_section(head), _section(body)])
