"""The staff voice menu (issue 15): one use case per turn of a phone call.

A staff member calls a clinic number from their registered phone, keys their PIN and then
logs time, hears their at-risk patients or notes their last call. Each Twilio request is one
turn: `answer` opens one write transaction, reads the call's session (locked), checks the
caller (the session's staff member, still active, PIN verified), does the step and saves
the session with the reply it gave. Twilio's action URLs carry only the turn number:

- the turn already answered (Twilio's retry) gets the stored reply and changes nothing;
- the next turn is a new step (a second wrong PIN with the same digits is a new attempt);
- any other turn number gets the stored reply again (never trusted further).

Nothing here is worded for a screen: `said` sentences are spoken by the telephony adapter,
which adds each step's keypad prompt. Patients are named by clinic id and initials only.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.activities import ACTIVITIES, ATTEMPT, CALL, parse_activity
from billing.digits import is_digits
from billing.durations import parse_duration
from billing.errors import InvalidInput
from billing.months import start_of_day_utc
from billing.programme import Window
from service import audit
from service.calls import CONFLICT_RETRIES, CallEvent, CallService, IncomingRoute
from service.context import ServiceContext
from service.entries import EntryService, LogRequest
from service.errors import BadInput, SaveUnconfirmed, StoreConflict, StoreUnavailable
from service.lookups import patients_by_digits, require_active_staff, require_patient
from service.month_words import month_sentence
from service.months import MonthService
from service.phones import redact_phones
from service.spoken_numbers import Unsure, patient_digits, spoken_seconds_of
from service.views import LoggedEntry
from service.voice_access import (
    PinLimits,
    PinReservation,
    PinVerdict,
    VoiceNotice,
    compare_pin,
    reserve_pin_check,
    settle_pin_check,
    voice_caller,
)
from store import voice_sessions as session_rows
from store.db import Conn

SESSION_LIFETIME = timedelta(minutes=30)  # from the last answered turn
FORGET_AFTER = timedelta(days=1)  # expired sessions are dropped a day later
MAX_PROMPTS = 3  # a prompt plays three times in all, then goodbye
MAX_CHOICES = 9  # one key each
MAX_KEYED_DIGITS = 16  # a patient number or minutes longer than this is a slip
MAX_WRONG_PINS = 3  # per call
MAX_NOTE_CHARS = 500  # a spoken note, bounded (the call's notes hold 2000)
MAX_RISK_PATIENTS = 50

# the steps: what the caller is asked now
PIN, MENU, PATIENT, CHOOSE, MINUTES, ACTIVITY = "pin", "menu", "patient", "choose", \
    "minutes", "activity"
CONFIRM, RISK, NOTE, NOTE_CONFIRM = "confirm", "risk", "note", "note_confirm"
# voice access refused after a PIN was keyed (locked, paused): only 0 for a person is left
CLOSED = "closed"
# the endings: nothing more is asked
GOODBYE, PERSON = "goodbye", "person"
ENDINGS = (GOODBYE, PERSON)
# the activity keys, as in Slack's order: 2 is a call (live)
ACTIVITY_KEYS = dict(zip("1234567", ACTIVITIES, strict=True))

_WORD = re.compile(r"[a-z]+|[0-9]+")
_CPT = re.compile(r"\b(99[0-9]{3})\b")
_ISO_DATE = re.compile(r"\b([0-9]{4})-([0-9]{2})-([0-9]{2})\b")
NO_PIN = ("You have no voice PIN yet. Ask your clinic admin to set a voice PIN, then call "
          "again. Goodbye.")
PIN_SHAPE = "That is not a PIN: a PIN is 4 to 8 digits, then pound."
UNSURE_SPEECH = "I was not sure I heard that."
# what an unfinished step loses when the call ends there (nothing, before a step saves)
_UNSAVED = {PATIENT: "The entry was not saved.", CHOOSE: "The entry was not saved.",
            MINUTES: "The entry was not saved.", ACTIVITY: "The entry was not saved.",
            CONFIRM: "The entry was not saved.", NOTE: "The note was not saved.",
            NOTE_CONFIRM: "The note was not saved."}


@dataclass(frozen=True)
class VoiceReply:
    """What the menu answers one turn with: sentences, then the step's prompt.

    `turn` is the number the caller's next answer carries (the action URL's `t`);
    `choices` are the labels of a CHOOSE step, one per key from 1."""

    step: str
    turn: int
    said: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    staff_pk: int = 0
    # what this turn started (a lock, the clinic-wide pause): told after the commit, by
    # the adapter, never stored with the reply (a retried turn tells nobody twice)
    notices: tuple[VoiceNotice, ...] = field(default=(), compare=False)

    @property
    def ended(self) -> bool:
        return self.step in ENDINGS

    def stored(self) -> dict[str, Any]:
        return {"step": self.step, "turn": self.turn, "said": list(self.said),
                "choices": list(self.choices), "staff_pk": self.staff_pk}

    @classmethod
    def of(cls, data: dict[str, Any]) -> "VoiceReply":
        return cls(step=data["step"], turn=data["turn"], said=tuple(data["said"]),
                   choices=tuple(data["choices"]), staff_pk=data["staff_pk"])


@dataclass(frozen=True)
class Answer:
    """What the caller did this turn, as the adapter read it: keys, speech, or nothing.
    `garbled`: Digits Twilio would not send (too long, control characters); `confidence`:
    Twilio's Confidence for the speech (None when it sent none)."""

    digits: str | None = None
    speech: str | None = None
    garbled: bool = False
    confidence: float | None = None

    @property
    def silent(self) -> bool:
        return not (self.digits or self.speech or self.garbled)


@dataclass
class _Turn:
    """One turn being answered: the session read (locked) and what the step changes."""

    conn: Conn
    call_sid: str
    number: int  # this turn's number
    staff_pk: int
    slack_user_id: str
    step: str
    tries: int
    data: dict[str, Any]
    now: datetime
    pin_limits: PinLimits
    min_confidence: float = 0.0  # VOICE_MIN_SPEECH_CONFIDENCE

    def reply(self, step: str, *said: str, choices: tuple[str, ...] = (),
              notices: tuple[VoiceNotice, ...] = ()) -> VoiceReply:
        return VoiceReply(step, self.number + 1, tuple(s for s in said if s), choices,
                          self.staff_pk, notices)


@dataclass(frozen=True)
class _PinToCompare:
    """The PIN step's first half: the attempt reserved (commit it), the keys to compare
    once no transaction is open."""

    reservation: PinReservation
    digits: str


def spoken_label(clinic_id: str, initials: str | None) -> str:
    """'P 1 0 4 2, J D': a clinic id read out character by character, then initials."""
    chars = " ".join(c for c in clinic_id if c.isalnum())
    return f"{chars}, {' '.join(initials)}" if initials else chars


def spoken_seconds(seconds: int) -> str:
    """'8 minutes 30 seconds', floored to whole seconds (never rounded up)."""
    minutes, rest = divmod(max(seconds, 0), 60)
    parts = [f"{minutes} minute{'' if minutes == 1 else 's'}"] if minutes else []
    if rest or not minutes:
        parts.append(f"{rest} second{'' if rest == 1 else 's'}")
    return " ".join(parts)


def spoken_clock(instant: datetime, zone: ZoneInfo) -> str:
    """'2:15 PM': clinic time of day as people say it."""
    local = instant.astimezone(zone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def _caveats(logged: LoggedEntry) -> str:
    """What Slack's warnings say of a saved entry that a nurse must hear too: time of it
    that does not count (before consent, outside enrolment, overlapping), and a patient
    with no consent on file (outside nurse review: such saves said only "Saved.")."""
    said = []
    count = logged.summary.entry_count(logged.entry.id)
    if count is not None and count.not_counted_seconds:
        said.append(f" Careful: {spoken_seconds(count.not_counted_seconds)} of this entry "
                    f"do not count: {'; '.join(count.reasons) or 'see Slack'}.")
    if logged.summary.consent_on is None:
        said.append(" There is no consent on file: do not bill until consent is recorded.")
    return "".join(said)


def spoken_date(day: date) -> str:
    """'November 20, 2026': a date as people say it (never '2026-11-20' read aloud)."""
    return f"{day:%B} {day.day}, {day.year}"


def spoken_text(text: str) -> str:
    """A sentence for the voice: CPT codes digit by digit, dates as said, no Slack or list
    punctuation."""
    text = _CPT.sub(lambda m: " ".join(m.group(1)), text)
    text = _ISO_DATE.sub(lambda m: spoken_date(date(*map(int, m.groups()))), text)
    return text.replace(" (", ", ").replace("(", "").replace(")", "")


class VoiceMenuService:
    """The menu's use cases: `incoming` (the call arrives) and `answer` (each turn after)."""

    def __init__(self, ctx: ServiceContext, calls: CallService, entries: EntryService,
                 months: MonthService) -> None:
        self.ctx = ctx
        self.calls = calls
        self.entries = entries
        self.months = months
        # the steps after the PIN (which `_turn` takes first: any keys are an attempt)
        self._steps: dict[str, Callable[[_Turn, Answer], VoiceReply]] = {
            MENU: self._menu, PATIENT: self._patient, CHOOSE: self._choose,
            MINUTES: self._minutes, ACTIVITY: self._activity, CONFIRM: self._confirm,
            RISK: self._risk, NOTE: self._note, NOTE_CONFIRM: self._note_confirm,
        }

    # -- the call arrives ------------------------------------------------------------------

    def incoming(self, event: CallEvent, *, fallback: str | None,
                 wait_s: float | None = None) -> IncomingRoute:
        """/incoming: a staff member's registered phone gets the menu (its call stored as a
        staff menu call); every other caller is routed as before (CallService)."""
        return self.calls.route_incoming(event, fallback=fallback, staff_menu=self._begin,
                                         wait_s=wait_s)

    def _begin(self, conn: Conn, call_sid: str, from_number: str | None) -> VoiceReply | None:
        """Inside /incoming's transaction: the menu's first reply, or None (not staff)."""
        now = self.ctx.now()
        caller = voice_caller(conn, from_number, now) if from_number else None
        if caller is None:
            return None
        existing = session_rows.locked(conn, call_sid)
        if existing is not None:  # /incoming retried: the same answer
            return VoiceReply.of(existing.reply)
        if not caller.has_pin:
            reply = VoiceReply(GOODBYE, 1, (NO_PIN,), staff_pk=caller.staff_id)
        else:  # a lock is said only after a PIN is keyed: a forger learns nothing here
            reply = VoiceReply(PIN, 1, ("Welcome to the R P M logger.",),
                               staff_pk=caller.staff_id)
        session_rows.drop_expired(conn, now - FORGET_AFTER)
        session_rows.insert_session(conn, call_sid=call_sid, staff_pk=caller.staff_id,
                                    step=reply.step, data={}, reply=reply.stored(), now=now,
                                    expires_at=now + SESSION_LIFETIME)
        audit.record(conn, at=now, actor=caller.slack_user_id, action="voice.session",
                     entity="voice_session", entity_id=call_sid, after={"step": reply.step})
        return reply

    # -- each turn after -------------------------------------------------------------------

    def answer(self, call_sid: str, turn: int, answer: Answer, *, pin_limits: PinLimits,
               write_wait_s: float | None = None, min_confidence: float = 0.0) -> VoiceReply:
        """One turn of a staff menu call, in one write transaction (run again when a racing
        twin of the same turn won a unique key: it then finds that turn answered); a PIN
        turn in two, its slow comparison between them (`_answer`).

        `write_wait_s` (VOICE_WRITE_DEADLINE_MS) bounds the wait for a busy database, below
        Twilio's 15 s webhook timeout: past it the transaction is given up (nothing of this
        turn lands later) and the caller hears the same step again, turn not taken, so a
        retry either saves once (voice:CallSid:turn) or is told again. A database that
        does not answer at all raises StoreUnavailable (the adapter says goodbye)."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._answer(call_sid, turn, answer, pin_limits, write_wait_s,
                                    min_confidence)
            except StoreConflict:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
            except StoreUnavailable as exc:
                landed = self._landed(call_sid, turn) if isinstance(exc, SaveUnconfirmed) \
                    else None
                if landed is not None:
                    return landed
                if write_wait_s is None:
                    raise
                return self._busy(call_sid)
        raise AssertionError("unreachable")

    def _landed(self, call_sid: str, turn: int) -> VoiceReply | None:
        """After a commit whose answer was lost: the turn's own reply when it was saved
        after all (the session row moved to this turn in the same transaction), else None.
        A read that fails too says nothing either way (None)."""
        try:
            with self.ctx.db.read() as conn:
                row = session_rows.current(conn, call_sid)
        except StoreUnavailable:
            return None
        return VoiceReply.of(row.reply) if row is not None and row.turn == turn else None

    def _busy(self, call_sid: str) -> VoiceReply:
        """The turn gave up on a busy database: the step the caller was at, asked again
        at the same turn (read only: under WAL and in PostgreSQL reads never wait for a
        writer). Raises StoreUnavailable when the database does not answer reads either."""
        with self.ctx.db.read() as conn:
            row = session_rows.current(conn, call_sid)
        if row is None:
            raise StoreUnavailable("voice session unreadable after a busy write")
        last = VoiceReply.of(row.reply)
        if last.ended:
            return last
        if last.step in (CONFIRM, NOTE_CONFIRM):  # what is being saved, read again
            said: tuple[str, ...] = (
                "The system is busy, so that was not saved. Please try again.",
                _read_back(row.data) if last.step == CONFIRM else _note_read_back(row.data))
        else:
            said = ("The system is busy. Please try again.",)
        return VoiceReply(last.step, last.turn, said, last.choices, last.staff_pk)

    def _answer(self, call_sid: str, turn: int, answer: Answer, pin_limits: PinLimits,
                write_wait_s: float | None, min_confidence: float) -> VoiceReply:
        """The turn in one write transaction, or a PIN in two: the first reserves the attempt
        and leaves the session as it was; the PIN is compared with no transaction (and no
        lock) held; the second, when the turn is still unanswered, settles the attempt and
        answers the turn (service/voice_access.py). Both wait for the database within the
        one `write_wait_s` of the turn: with none of it left the second is not begun (busy:
        the caller keys the PIN again at the same turn, which finds the same reservation)."""
        started = time.monotonic()
        with self.ctx.db.write(wait_s=write_wait_s) as conn:
            opened = self._open(conn, call_sid, turn, pin_limits, min_confidence)
            if isinstance(opened, VoiceReply):
                return opened
            t, row = opened
            reply = self._turn(t, row, answer)
            if isinstance(reply, VoiceReply):
                return self._answered(t, reply, answer)
        matched = compare_pin(reply.reservation, reply.digits)
        with self.ctx.db.write(wait_s=_time_left(write_wait_s, started)) as conn:
            opened = self._open(conn, call_sid, turn, pin_limits, min_confidence)
            if isinstance(opened, VoiceReply):  # a racing twin answered it meanwhile
                return opened
            t, _ = opened
            verdict = settle_pin_check(conn, reply.reservation, matched=matched, now=t.now,
                                       limits=pin_limits)
            return self._answered(t, self._pin_verdict(t, verdict), answer)

    def _open(self, conn: Conn, call_sid: str, turn: int, pin_limits: PinLimits,
              min_confidence: float) -> "VoiceReply | tuple[_Turn, Any]":
        """The call's session, locked: the turn to answer, or the reply this request gets
        as it is (no such call; a retried or stale turn: the same reply, nothing changed)."""
        row = session_rows.locked(conn, call_sid)
        if row is None:
            return VoiceReply(GOODBYE, turn + 1, (
                "I could not find this call. Please call again. Goodbye.",))
        if turn != row.turn + 1 or row.step in ENDINGS:
            return VoiceReply.of(row.reply)
        return _Turn(conn, call_sid, turn, row.staff_id, row.slack_user_id, row.step,
                     row.tries, dict(row.data), self.ctx.now(), pin_limits,
                     min_confidence), row

    @staticmethod
    def _answered(t: _Turn, reply: VoiceReply, answer: Answer) -> VoiceReply:
        """The session after this turn, saved with the reply it gave."""
        tries = t.tries + 1 if reply.step == t.step and answer.silent else 0
        session_rows.save(t.conn, t.call_sid, turn=t.number, step=reply.step, tries=tries,
                          data=t.data if not reply.ended else {},
                          reply=reply.stored(), expires_at=t.now + SESSION_LIFETIME)
        return reply

    def _turn(self, t: _Turn, row: Any, answer: Answer) -> "VoiceReply | _PinToCompare":
        unsaved = _UNSAVED.get(t.step, "")
        if row.expires_at <= t.now:
            return t.reply(GOODBYE, "This call has timed out.", unsaved, "Goodbye.")
        if not row.active:
            return t.reply(GOODBYE, "Your staff record is inactive. Goodbye.")
        if answer.digits == "0":  # a person, at every step (minutes too: outside review)
            return t.reply(PERSON, _dropped(t), "Connecting you to the clinic.")
        if t.step == CLOSED:  # only 0 is left: anything else, or nothing, ends the call
            return t.reply(GOODBYE, "Goodbye.")
        if answer.silent:
            if t.tries + 1 >= MAX_PROMPTS:
                return t.reply(GOODBYE, "I did not hear an answer.", unsaved, "Goodbye.")
            return self._again(t, "I did not hear anything.")
        if t.step == PIN:  # any keys are a PIN attempt: a malformed one hears why
            return self._pin(t, answer)
        # keys are 0-9 only (billing.digits): '²' passed isdigit() and int() raised (a 500
        # dropped the call), '٣' was logged as 3 minutes
        if answer.garbled or (answer.digits and not is_digits(answer.digits)):
            return self._again(t, "Please use the number keys only.")
        return self._steps[t.step](t, answer)

    def _again(self, t: _Turn, *said: str, notices: tuple[VoiceNotice, ...] = ()) -> VoiceReply:
        """The current step's prompt again, with the reason first."""
        choices = tuple(c["label"] for c in t.data.get("choices", ())) \
            if t.step == CHOOSE else ()
        return t.reply(t.step, *said, *self._restate(t), choices=choices, notices=notices)

    @staticmethod
    def _restate(t: _Turn) -> tuple[str, ...]:
        """What a step says before its prompt, repeated when the prompt is."""
        if t.step == CONFIRM:
            return (_read_back(t.data),)
        if t.step == RISK:
            return (_risk_line(t.data),)
        if t.step == NOTE_CONFIRM:
            return (_note_read_back(t.data),)
        return ()

    # -- the PIN ---------------------------------------------------------------------------

    def _pin(self, t: _Turn, answer: Answer) -> "VoiceReply | _PinToCompare":
        if answer.speech and not answer.digits:
            return self._again(t, "Please key your PIN on the keypad; do not say it.")
        digits = answer.digits or ""
        checked = reserve_pin_check(t.conn, staff_id=t.staff_pk, digits=digits,
                                    call_sid=t.call_sid, now=t.now, limits=t.pin_limits)
        if isinstance(checked, PinVerdict):
            return self._pin_verdict(t, checked)
        return _PinToCompare(checked, digits)

    def _pin_verdict(self, t: _Turn, verdict: PinVerdict) -> VoiceReply:
        """What the caller hears of a PIN check, refused or compared."""
        if verdict.ok:
            t.data = {}
            return t.reply(MENU)
        if verdict.reason in ("locked", "member_limit") or verdict.locked_now:
            return t.reply(CLOSED, "Your voice access is locked after too many wrong PINs. "
                                   "Use Slack, or ask your clinic admin to unlock it.",
                           notices=verdict.notices)
        if verdict.reason == "number_limit":
            return t.reply(CLOSED, "Voice access from this phone is paused after too many "
                                   "wrong PINs. Please try again later, or use Slack.")
        if verdict.reason == "clinic_limit":
            return t.reply(CLOSED, "Voice access is paused for now. Please try again later, "
                                   "or use Slack.")
        if verdict.reason == "no_pin":
            return t.reply(GOODBYE, NO_PIN)
        # wrong or malformed: three per call end it (a malformed one is never compared nor
        # counted toward a lock, docs/security.md, but it is a try on this call)
        t.data["wrong_pins"] = max(t.data.get("wrong_pins", 0) + 1, verdict.wrong_this_call)
        if t.data["wrong_pins"] >= MAX_WRONG_PINS:
            return t.reply(GOODBYE, "That PIN is not right either. Goodbye.",
                           notices=verdict.notices)
        return self._again(t, PIN_SHAPE if verdict.reason == "malformed"
                           else "That PIN is not right.", notices=verdict.notices)

    # -- the main menu ---------------------------------------------------------------------

    def _menu(self, t: _Turn, answer: Answer) -> VoiceReply:
        key = answer.digits or ""
        if key == "1":
            t.data = {}
            return t.reply(PATIENT)
        if key == "2":
            return self._risk_walk(t)
        if key == "3":
            return self._last_call(t)
        if key == "9":
            return t.reply(MENU)
        return self._again(t, _not_a_choice(answer))

    # -- log time: patient, minutes, activity, read back, save -----------------------------

    def _patient(self, t: _Turn, answer: Answer) -> VoiceReply:
        if _unsure_speech(t, answer):
            return self._again(t, UNSURE_SPEECH)
        try:
            digits = answer.digits or patient_digits(answer.speech or "")
        except Unsure as exc:
            return self._again(t, str(exc))
        if len(digits) > MAX_KEYED_DIGITS:
            return self._again(t, f"That was {len(digits)} digits, too many for a patient "
                                  "number.")
        rows = patients_by_digits(t.conn, digits, limit=MAX_CHOICES + 1)
        if not rows:
            return self._again(t, "No patient number has those digits.")
        if len(rows) > MAX_CHOICES:
            return t.reply(MENU, "More than nine patients have those digits. Please use "
                                 "Slack for this one.")
        today = t.now.astimezone(self.ctx.policy.zone).date()
        found = [{"clinic_id": r.clinic_id, "initials": r.initials,
                  "label": spoken_label(r.clinic_id, r.initials),
                  "closed": _not_monitored(r, today)} for r in rows]
        if len(found) == 1:
            return self._picked(t, found[0])
        t.data["choices"] = found
        return t.reply(CHOOSE, f"{len(found)} patients have those digits.",
                       choices=tuple(f["label"] for f in found))

    def _choose(self, t: _Turn, answer: Answer) -> VoiceReply:
        choices = t.data.get("choices", [])
        try:
            key = answer.digits or patient_digits(answer.speech or "")
        except Unsure:
            key = ""
        if not (is_digits(key) and len(key) == 1 and 1 <= int(key) <= len(choices)):
            return self._again(t, _not_a_choice(Answer(digits=key, speech=answer.speech)))
        return self._picked(t, choices[int(key) - 1])

    def _picked(self, t: _Turn, patient: dict[str, Any]) -> VoiceReply:
        """The patient to log for, unless not monitored today (refused here, in words,
        not at the save: outside nurse review)."""
        if patient.get("closed"):
            return self._again(t, f"Patient {patient['label']} {patient['closed']}; pick "
                                  "another patient.")
        t.data.pop("choices", None)
        t.data["patient"] = patient
        return t.reply(MINUTES, f"Patient {patient['label']}.")

    def _minutes(self, t: _Turn, answer: Answer) -> VoiceReply:
        limit = self.ctx.policy.max_entry_seconds // 60
        reason = f"Minutes go from 1 to {limit}."
        if answer.digits:
            if len(answer.digits) > MAX_KEYED_DIGITS:
                return self._again(t, reason)
            heard, said = int(answer.digits) * 60, f"{int(answer.digits)} minutes"
        elif _unsure_speech(t, answer):
            return self._again(t, UNSURE_SPEECH)
        else:
            try:  # the one spoken-number parser: refused when unsure, never guessed
                heard = spoken_seconds_of(answer.speech or "")
            except Unsure as exc:
                return self._again(t, str(exc))
            said = spoken_seconds(heard)
        try:  # the one duration parser, with the clinic's longest entry
            seconds = parse_duration(f"{heard}s", max_seconds=limit * 60)
        except InvalidInput:
            return self._again(t, f"{said} cannot be logged. {reason}")
        t.data["seconds"] = seconds
        return t.reply(ACTIVITY, f"{spoken_seconds(seconds)}.")

    def _activity(self, t: _Turn, answer: Answer) -> VoiceReply:
        activity = ACTIVITY_KEYS.get(answer.digits or "")
        if activity is None and answer.speech:
            activity = next((a for a in (_activity_word(w) for w in
                                         _WORD.findall(answer.speech.lower())) if a), None)
        if activity is None:
            return self._again(t, _not_a_choice(answer))
        t.data["activity"] = activity
        return t.reply(CONFIRM, _read_back(t.data))

    def _confirm(self, t: _Turn, answer: Answer) -> VoiceReply:
        if answer.digits == "2":
            t.data = {}
            return t.reply(PATIENT, "Starting over.")
        if answer.digits != "1":
            return self._again(t, _not_a_choice(answer))
        return self._save(t)

    def _save(self, t: _Turn) -> VoiceReply:
        """The entry, committed with this turn: `voice:CallSid:turn` keys it, so a racing
        retry of the same turn hits the unique reference and finds this reply instead."""
        patient_data, seconds = t.data["patient"], t.data["seconds"]
        try:
            staff = require_active_staff(t.conn, t.slack_user_id, doing="log time")
            patient = require_patient(t.conn, patient_data["clinic_id"],
                                      region=self.ctx.policy.phone_region, by_phone=False)
            logged = self.entries.log_in(
                t.conn, LogRequest(patient=patient.clinic_id, duration=f"{seconds}s",
                                   activity=t.data["activity"], staff=staff.slack_user_id,
                                   source="voice", clock_timed=False),
                staff=staff, patient=patient, started_at=t.now - timedelta(seconds=seconds),
                actor=staff.slack_user_id, external_ref=f"voice:{t.call_sid}:{t.number}")
        except BadInput as exc:
            t.data = {}
            said = redact_phones(str(exc), region=self.ctx.policy.phone_region) or ""
            return t.reply(MENU, "Not saved.", spoken_text(
                said.replace(patient_data["clinic_id"], f"Patient {patient_data['label']}")))
        t.data = {}
        return t.reply(MENU, "Saved.", spoken_text(
            f"{patient_data['label']}: {month_sentence(logged.summary, spoken_seconds)}"
            f"{_caveats(logged)}"))

    # -- hear my at-risk patients ----------------------------------------------------------

    def _risk_walk(self, t: _Turn) -> VoiceReply:
        rows = [r for r in self.months.caseload_in(t.conn, t.slack_user_id)
                if r.risk.still_to_win][:MAX_RISK_PATIENTS]
        if not rows:
            return t.reply(MENU, "None of your patients is at risk this month.")
        t.data = {"at": 0, "risk": [
            {"clinic_id": r.summary.patient_id, "initials": r.summary.initials,
             "label": spoken_label(r.summary.patient_id, r.summary.initials),
             "advice": r.risk.advice(), "days": r.risk.days_left} for r in rows]}
        count = "One of your patients is at risk." if len(rows) == 1 \
            else f"{len(rows)} of your patients are at risk, worst first."
        return t.reply(RISK, count, _risk_line(t.data))

    def _risk(self, t: _Turn, answer: Answer) -> VoiceReply:
        key = answer.digits or ""
        if key == "1":
            t.data = {"patient": t.data["risk"][t.data["at"]]}
            return t.reply(MINUTES, f"Log time for {t.data['patient']['label']}.")
        if key == "2":
            if t.data["at"] + 1 >= len(t.data["risk"]):
                t.data = {}
                return t.reply(MENU, "That was the last one.")
            t.data["at"] += 1
            return t.reply(RISK, _risk_line(t.data))
        if key == "9":
            t.data = {}
            return t.reply(MENU)
        return self._again(t, _not_a_choice(answer))

    # -- a note on my last call ------------------------------------------------------------

    def _last_call(self, t: _Turn) -> VoiceReply:
        zone = self.ctx.policy.zone
        today = start_of_day_utc(t.now.astimezone(zone).date(), zone)
        call = self.calls.last_counted_in(t.conn, t.staff_pk, today)
        if call is None or call.patient is None:
            return t.reply(MENU, "You have no counted call today.")
        label = spoken_label(call.patient.patient_id, call.patient.initials)
        t.data = {"call": call.call_id, "about": (
            f"Your last counted call today: {label}, at {spoken_clock(call.started_at, zone)}"
            f", {spoken_seconds(call.duration_seconds or 0)}.")}
        return t.reply(NOTE, t.data["about"])

    def _note(self, t: _Turn, answer: Answer) -> VoiceReply:
        note = " ".join((answer.speech or "").split())[:MAX_NOTE_CHARS]
        if not note:
            return self._again(t, "Please say the note; keys are not a note.")
        t.data["note"] = note
        t.data["words"] = len(note.split())
        return t.reply(NOTE_CONFIRM, _note_read_back(t.data))

    def _note_confirm(self, t: _Turn, answer: Answer) -> VoiceReply:
        if answer.digits == "2":
            t.data.pop("note", None)
            t.data.pop("words", None)
            return t.reply(NOTE, "Let's try that again.", t.data["about"])
        if answer.digits != "1":
            return self._again(t, _not_a_choice(answer))
        try:
            self.calls.add_note_in(t.conn, t.data["call"], t.data["note"], by=t.slack_user_id)
        except BadInput as exc:
            t.data = {}
            return t.reply(MENU, "Not saved.", spoken_text(str(exc)))
        t.data = {}
        return t.reply(MENU, "Note saved.")


def _time_left(wait_s: float | None, started: float) -> float | None:
    """What is left of a turn's write deadline (`wait_s`, from `started` on the monotonic
    clock); StoreUnavailable when nothing is."""
    if wait_s is None:
        return None
    left = wait_s - (time.monotonic() - started)
    if left <= 0:
        raise StoreUnavailable("the turn's write deadline passed before its PIN was settled")
    return left


def _activity_word(word: str) -> str | None:
    try:
        return parse_activity(word)
    except InvalidInput:
        return None


def _read_back(data: dict[str, Any]) -> str:
    """'Patient P 1 0 4 2, J D, 12 minutes, review, today.' A call is read back as the
    live call it is saved as (the billing claim), never as a plain "call"; an attempt as one
    that is not live."""
    activity = {CALL: "live call", ATTEMPT: "call attempt, not live"}.get(
        data["activity"], data["activity"])
    return (f"Patient {data['patient']['label']}, {spoken_seconds(data['seconds'])}, "
            f"{activity}, today.")


def _risk_line(data: dict[str, Any]) -> str:
    row = data["risk"][data["at"]]
    days = row["days"]
    left = "the last day" if days == 1 else f"{days} days left"
    return spoken_text(f"{row['label']}: {row['advice']}, {left}.")


def _note_read_back(data: dict[str, Any]) -> str:
    """How much was heard, never what: a transcript may hold a name, a phone number or a
    date of birth (outside nurse review); the saved note is read where call notes are shown."""
    words = data["words"]
    return (f"I heard a note of {words} word{'' if words == 1 else 's'}. Notes are not "
            "read aloud.")


def _not_a_choice(answer: Answer) -> str:
    """The reason a key (or a word) was refused, one wording at every step (outside nurse
    review: it was worded three ways); the step's prompt then says what to press."""
    key = answer.digits or ""
    if key:
        return f"Key {' '.join(key)} is not one of the choices."
    return "That is not one of the choices." if answer.speech \
        else "Please use the keypad for this one."


def _unsure_speech(t: _Turn, answer: Answer) -> bool:
    """Speech (no keys) Twilio heard with less confidence than VOICE_MIN_SPEECH_CONFIDENCE:
    a number misheard would log the wrong minutes or patient, so it is asked again. A
    Confidence of 0 is "not reported" (some Twilio speech models always send 0): taken, and
    the read-back before the save still guards it."""
    return (not answer.digits and answer.confidence is not None
            and 0 < answer.confidence < t.min_confidence)


def _dropped(t: _Turn) -> str:
    """Said before a person is called: an entry (or a note) under way is not saved, and the
    caller must know (outside nurse review: 0 mid-entry said nothing of it)."""
    if "patient" in t.data and t.step in (MINUTES, ACTIVITY, CONFIRM):
        return "That entry was not saved."
    if t.step == NOTE_CONFIRM:
        return "That note was not saved."
    return ""


def _not_monitored(row: Any, today: date) -> str:
    """Why time for this patient cannot be logged today, in words ('' when it can)."""
    outside = Window(row.enrolled_on, row.ended_on).outside(today)
    if outside is None:
        return ""
    why, edge = outside
    if why == "ended":
        return f"has ended monitoring on {spoken_date(edge)}"
    return f"is enrolled only from {spoken_date(edge)}"


__all__ = ["Answer", "VoiceMenuService", "VoiceReply"]
