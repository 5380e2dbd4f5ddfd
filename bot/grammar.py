"""The one `/rpm` grammar: every command is parsed here, and `help` is written from the same
table, so the usage people read is the usage the parser accepts.

`parse` never raises: anything it cannot read becomes `Usage` with a short, specific reason.
"""

import re
from dataclasses import dataclass
from datetime import date

from billing.activities import ACTIVITIES, is_activity
from billing.digits import DIGIT, ONLY_ASCII_DIGITS, has_other_digits
from billing.durations import duration_word_count, looks_like_duration
from billing.errors import quoted
from service.spelling import closest

# (command, usage, example) in the order help lists them
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("log", "/rpm log [PATIENT] DURATION ACTIVITY [live] [yesterday|on YYYY-MM-DD] [NOTE...]",
     "/rpm log P-1042 12m review · /rpm log P-1042 15m call live discussed BP"),
    ("status", "/rpm status [PATIENT]", "/rpm status P-1042"),
    ("undo", "/rpm undo", "/rpm undo  (voids your last entry once, within 10 min)"),
    ("void", "/rpm void ENTRY_ID REASON", "/rpm void 118 wrong patient"),
    ("risk", "/rpm risk", "/rpm risk"),
    ("use", "/rpm use PATIENT|none", "/rpm use P-1042"),
    ("start", "/rpm start [PATIENT] [ACTIVITY]", "/rpm start P-1042 review"),
    ("stop", "/rpm stop [NOTE...]", "/rpm stop reviewed readings"),
    ("timer", "/rpm timer", "/rpm timer"),
    ("cancel", "/rpm cancel", "/rpm cancel"),
    ("patient", "/rpm patient add PATIENT_ID [INITIALS] · /rpm patient assign PATIENT_ID @user",
     "/rpm patient add P-1042 JD  (admins)"),
    ("staff", "/rpm staff add @user ROLE [admin] · /rpm staff list · "
     "/rpm staff offboard @user to @user [drop-timer] [confirm [REASON...]]",
     "/rpm staff add @nina clinical_staff  (admins; offboard shows what it does, then "
     "`confirm` does it)"),
    ("call", "/rpm call PATIENT_ID", "/rpm call P-1042  (rings your phone, then the patient)"),
    ("calls", "/rpm calls unmatched · /rpm calls attach CALL_ID PATIENT_ID · "
     "/rpm calls claim CALL_ID",
     "/rpm calls attach C-12 P-1042  (unmatched and attach: admins)"),
    ("report", "/rpm report [YYYY-MM]", "/rpm report 2026-11  (admins: CSV sent to your DM)"),
    ("packet", "/rpm packet PATIENT_ID [YYYY-MM]",
     "/rpm packet P-1042 2026-10  (admins: the audit packet's dashboard link in your DM)"),
    ("month", "/rpm month close YYYY-MM · /rpm month reopen YYYY-MM REASON",
     "/rpm month close 2026-10  (admins, once billed; asks to confirm)"),
    ("help", "/rpm help [COMMAND]", "/rpm help log"),
)
USAGE = {name: usage for name, usage, _ in COMMANDS}
# dates and months are read in 0-9 only (billing.digits); a word in other digits is refused
# with that reason (`_unreadable`), never taken as a note or a patient
_DATE = re.compile(rf"{DIGIT}{{4}}-{DIGIT}{{2}}-{DIGIT}{{2}}")
_MONTH = re.compile(rf"{DIGIT}{{4}}-{DIGIT}{{2}}")
_MONTH_LIKE = re.compile(rf"{DIGIT}{{4}}-{DIGIT}{{1,2}}")
# a phone number in any script's digits (`\d` on purpose): refusing PHI, broader is safer
_PHONE_LIKE = re.compile(r"\+[\d().-]{7,}|\(?\d{3}\)?[.-]\d{3}[.-]\d{4}|\(\d{3}\)\d{3}-?\d{4}")
PHONE_REFUSAL = ("Patients are named by clinic id here (e.g. P-1042): phone numbers are PHI "
                 "and never typed into Slack.")
MAX_TEXT = 4000


@dataclass(frozen=True)
class Usage:
    """Unreadable input: why, and the usage of the command it looked like (or all)."""

    reason: str | None
    topic: str | None = None
    brief: bool = False  # only the topic's one-line usage (an unknown command's closest)


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class Log:
    patient: str | None
    duration: str
    activity: str
    live: bool = False
    note: str | None = None
    day: date | None = None
    yesterday: bool = False

    def without_patient(self) -> str:
        """The log as typed, minus the patient: the picker puts the chosen patient back."""
        words = [self.duration, self.activity] + (["live"] if self.live else [])
        if self.yesterday:
            words.append("yesterday")
        elif self.day:
            words += ["on", self.day.isoformat()]
        return " ".join(words + ([self.note] if self.note else []))


@dataclass(frozen=True)
class Status:
    patient: str | None = None


@dataclass(frozen=True)
class Void:
    entry_id: str
    reason: str


@dataclass(frozen=True)
class Use:
    patient: str | None  # None: clear


@dataclass(frozen=True)
class Start:
    patient: str | None = None
    activity: str | None = None


@dataclass(frozen=True)
class Stop:
    note: str | None = None


@dataclass(frozen=True)
class Simple:
    """Commands without arguments: undo, risk, timer, cancel, staff list."""

    name: str


@dataclass(frozen=True)
class PatientAdd:
    patient_id: str
    initials: str | None = None


@dataclass(frozen=True)
class PatientAssign:
    patient_id: str
    user: str  # a mention <@U123|name> or a user id


@dataclass(frozen=True)
class StaffAdd:
    user: str
    role: str
    admin: bool = False


@dataclass(frozen=True)
class StaffOffboard:
    """A member leaves: without `confirm`, what it would do; with it, done."""

    user: str
    successor: str
    drop_timer: bool = False
    confirm: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class CallPatient:
    """Click-to-call: ring the caller's phone, then bridge the patient."""

    patient: str


@dataclass(frozen=True)
class CallAttach:
    call_id: str
    patient: str


@dataclass(frozen=True)
class CallClaim:
    call_id: str


@dataclass(frozen=True)
class Report:
    month: str | None = None  # YYYY-MM; None: the current month


@dataclass(frozen=True)
class Packet:
    patient: str  # clinic id
    month: str | None = None  # YYYY-MM; None: the current month


@dataclass(frozen=True)
class CloseMonth:
    month: str  # YYYY-MM; answered with what the close locks and a Confirm button


@dataclass(frozen=True)
class ReopenMonth:
    month: str  # YYYY-MM
    reason: str


Command = (Usage | Help | Log | Status | Void | Use | Start | Stop | Simple | PatientAdd
           | PatientAssign | StaffAdd | StaffOffboard | CallPatient | CallAttach | CallClaim
           | Report | Packet | CloseMonth | ReopenMonth)

# each command's kind as the metrics name it (rpm_slack_commands_total): the grammar's own
# words, never what was typed
_KINDS: dict[type, str] = {
    Usage: "usage", Help: "help", Log: "log", Status: "status", Void: "void", Use: "use",
    Start: "start", Stop: "stop", PatientAdd: "patient_add", PatientAssign: "patient_assign",
    StaffAdd: "staff_add", StaffOffboard: "staff_offboard", CallPatient: "call",
    CallAttach: "calls_attach",
    CallClaim: "calls_claim", Report: "report", Packet: "packet", CloseMonth: "month_close",
    ReopenMonth: "month_reopen"}


def kind(command: Command) -> str:
    """"log", "patient_add", "staff_list": which command this is, for counting."""
    if isinstance(command, Simple):
        return command.name.replace(" ", "_")  # one of the grammar's fixed names
    return _KINDS[type(command)]


def _free_text(words: list[str]) -> str | None:
    """Notes and reasons as typed: Slack sends &, < and > escaped as &amp; &lt; &gt;."""
    text = " ".join(words)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") or None


def _words(text: str) -> list[str]:
    """Whitespace words; quotes are kept literally (notes may contain apostrophes)."""
    return text.split()


def _unreadable(words: list[str], topic: str) -> Usage | None:
    """A refusal naming the digits rule when a word holds digits other than 0-9 ('１２m',
    '２０２６-１１'): without it '１２m' was taken for a patient and 'review' refused as "not a
    duration", and a date in other digits became part of the note."""
    for word in words:
        if has_other_digits(word):
            return Usage(f"Cannot read {quoted(word)}: {ONLY_ASCII_DIGITS}.", topic)
    return None


def _refused_duration(words: list[str], i: int) -> int:
    """1 when words[i] holds digits other than 0-9 right before the activity ('１２m
    review'): the duration's place, so the service refuses it as it refuses 0m or 300m."""
    return int(has_other_digits(words[i]) and i + 1 < len(words) and is_activity(words[i + 1]))


def _take_duration(words: list[str], i: int) -> int:
    """How many words from i form a duration: 1, 2 ('12 min', '1h 5m') or 0."""
    return duration_word_count(words, i)


def _parse_log(words: list[str]) -> Command:
    if not words:
        return Usage("Say how long and what you did.", "log")
    # the patient and the duration: the words before the activity (notes may hold anything)
    head = words[:next((i for i, word in enumerate(words) if is_activity(word)), len(words))]
    patient: str | None = None
    i = 0
    size = _take_duration(words, 0) or _refused_duration(words, 0)
    # "1042 12m review": a numeric patient id followed by the duration
    if size == 0 or (size == 1 and _take_duration(words, 1)):
        patient, i = words[0], 1
        size = _take_duration(words, 1)
    if refused := _unreadable([patient] if patient else [], "log"):
        return refused
    if size == 0:
        if i >= len(words):
            return Usage("How long? Add a duration such as 12m after the patient.", "log")
        if not (looks_like_duration(words[i].removeprefix("-")) or has_other_digits(words[i])):
            return Usage(f"{quoted(words[i])} is not a duration (12m, 1h5m, 1:05, 90s).",
                         "log")
        # shaped as a duration but refused (0m, -5m, '１２m'): the service refuses it, as 300m
        size = 1
    if refused := _unreadable(head[i + size:3], "log"):  # '12 ٣ review': not a note
        return refused
    duration = " ".join(words[i:i + size])
    i += size
    if i >= len(words):
        return Usage(f"Which activity? One of: {', '.join(ACTIVITIES)}.", "log")
    if not is_activity(words[i]):
        return Usage(f"{quoted(words[i])} is not an activity. "
                     f"One of: {', '.join(ACTIVITIES)}.", "log")
    activity = words[i]
    return _log_modifiers(patient, duration, activity, words[i + 1:])


def _log_modifiers(patient: str | None, duration: str, activity: str,
                   rest: list[str]) -> Command:
    live, yesterday, day = False, False, None
    while rest:
        word = rest[0].lower()
        if word == "live":
            live, rest = True, rest[1:]
        elif word == "yesterday" and not (yesterday or day):
            yesterday, rest = True, rest[1:]
        elif word == "on" and not (yesterday or day) \
                and (refused := _unreadable(rest[1:2], "log")):
            return refused
        elif word == "on" and len(rest) > 1 and _DATE.fullmatch(rest[1]) and not (yesterday
                                                                                  or day):
            try:
                day = date.fromisoformat(rest[1])
            except ValueError:
                return Usage(f"{quoted(rest[1])} is not a date (YYYY-MM-DD).", "log")
            rest = rest[2:]
        else:
            break
    note = _free_text(rest)
    return Log(patient, duration, activity, live, note, day, yesterday)


def _one_or_none(words: list[str], name: str) -> Command | str | None:
    if len(words) > 1:
        return Usage(f"`{name}` takes at most one patient.", name)
    return words[0] if words else None


def _parse_status(words: list[str]) -> Command:
    found = _one_or_none(words, "status")
    return found if isinstance(found, Usage) else Status(found)  # type: ignore[arg-type]


def _parse_use(words: list[str]) -> Command:
    if len(words) != 1:
        return Usage("Name one patient, or `none` to clear.", "use")
    return Use(None if words[0].lower() in ("none", "clear", "off") else words[0])


def _parse_void(words: list[str]) -> Command:
    if len(words) < 2:
        return Usage("Give the entry id and a reason (auditors read it).", "void")
    return Void(words[0], _free_text(words[1:]) or "")


def _parse_start(words: list[str]) -> Command:
    if len(words) > 2:
        return Usage("Start takes a patient and an activity, nothing more.", "start")
    if len(words) == 2:
        return Start(words[0], words[1])
    if len(words) == 1:
        return Start(None, words[0]) if is_activity(words[0]) else Start(words[0], None)
    return Start()


def _parse_patient(words: list[str]) -> Command:
    sub = words[0].lower() if words else ""
    if sub == "add" and len(words) in (2, 3):
        return PatientAdd(words[1], words[2] if len(words) == 3 else None)
    if sub == "assign" and len(words) == 3:
        return PatientAssign(words[1], words[2])
    return Usage("Use `patient add PATIENT_ID [INITIALS]` or `patient assign PATIENT_ID @user`."
                 " Phone numbers are managed with the CLI, never in Slack.", "patient")


def _parse_staff(words: list[str]) -> Command:
    sub = words[0].lower() if words else ""
    if sub == "list" and len(words) == 1:
        return Simple("staff list")
    if sub == "add" and len(words) in (3, 4):
        if len(words) == 4 and words[3].lower() != "admin":
            return Usage(f"{quoted(words[3])}: the only flag after the role is `admin`.", "staff")
        return StaffAdd(words[1], words[2], len(words) == 4)
    if sub == "offboard":
        return _parse_offboard(words[1:])
    return Usage("Use `staff add @user ROLE [admin]`, `staff list` or "
                 "`staff offboard @user to @user`.", "staff")


def _parse_offboard(words: list[str]) -> Command:
    """`@leaver to @successor [drop-timer] [confirm [REASON...]]`."""
    if len(words) < 3 or words[1].lower() != "to":
        return Usage("Use `staff offboard @leaver to @successor [drop-timer] "
                     "[confirm [REASON...]]`.", "staff")
    rest = words[3:]
    drop = bool(rest) and rest[0].lower() == "drop-timer"
    rest = rest[1:] if drop else rest
    if rest and rest[0].lower() != "confirm":
        return Usage(f"{quoted(rest[0])}: after the two members come `drop-timer` and "
                     "`confirm [REASON...]`.", "staff")
    return StaffOffboard(words[0], words[2], drop, bool(rest), _free_text(rest[1:]))


def _parse_call(words: list[str]) -> Command:
    if len(words) != 1:
        return Usage("Name one patient by clinic id.", "call")
    return CallPatient(words[0])


def _parse_calls(words: list[str]) -> Command:
    sub = words[0].lower() if words else ""
    if sub == "unmatched" and len(words) == 1:
        return Simple("calls unmatched")
    if sub == "attach" and len(words) == 3:
        return CallAttach(words[1], words[2])
    if sub == "claim" and len(words) == 2:
        return CallClaim(words[1])
    return Usage("Use `calls unmatched`, `calls attach CALL_ID PATIENT_ID` or "
                 "`calls claim CALL_ID` (CALL_ID as in the DM, e.g. C-12).", "calls")


def _parse_report(words: list[str]) -> Command:
    if not words:
        return Report()
    if len(words) == 1 and (refused := _unreadable(words, "report")):
        return refused
    if len(words) == 1 and _MONTH.fullmatch(words[0]):
        return Report(words[0])
    return Usage("Give at most one month, as YYYY-MM (e.g. 2026-11).", "report")


def _parse_packet(words: list[str]) -> Command:
    if refused := _unreadable(words[1:2], "packet"):
        return refused
    if len(words) == 1 or (len(words) == 2 and _MONTH_LIKE.fullmatch(words[1])):
        return Packet(*words)
    return Usage("Name one patient by clinic id, then at most one month as YYYY-MM "
                 "(e.g. `packet P-1042 2026-10`).", "packet")


def _parse_month(words: list[str]) -> Command:
    """The month's spelling is checked by the service (`2026-1` is refused with `2026-01`)."""
    sub = words[0].lower() if words else ""
    if sub in ("close", "reopen") and (refused := _unreadable(words[1:2], "month")):
        return refused
    if sub == "close" and len(words) == 2 and _MONTH_LIKE.fullmatch(words[1]):
        return CloseMonth(words[1])
    if sub == "reopen" and len(words) >= 3 and _MONTH_LIKE.fullmatch(words[1]):
        reason = _free_text(words[2:])
        if reason:
            return ReopenMonth(words[1], reason)
    return Usage("Use `month close YYYY-MM` or `month reopen YYYY-MM REASON` "
                 "(e.g. 2026-10).", "month")


_SIMPLE = ("undo", "risk", "timer", "cancel")
_ALIASES = {"l": "log", "s": "status", "?": "help", "h": "help"}


def _names_a_phone(command: Command) -> bool:
    refs = [getattr(command, name, None) for name in ("patient", "patient_id")]
    return any(ref and _PHONE_LIKE.fullmatch(ref) for ref in refs)


def parse(text: str | None) -> Command:
    """The command in a slash command's text; never raises."""
    command = _parse(text)
    if _names_a_phone(command):
        return Usage(PHONE_REFUSAL, None)
    return command


def _parse(text: str | None) -> Command:
    raw = (text or "").strip()
    if len(raw) > MAX_TEXT:  # the usage of the command it starts with, not the whole help
        first = raw.split(maxsplit=1)[0].lower()
        command = _ALIASES.get(first, first)
        return Usage(f"That is over {MAX_TEXT} characters.",
                     command if command in USAGE else None)
    words = _words(raw)
    if not words:
        return Help()
    name = _ALIASES.get(words[0].lower(), words[0].lower())
    args = words[1:]
    if name == "help":
        topic = args[0].lower() if args else None
        return Help(topic if topic in USAGE else None)
    if name in _SIMPLE:
        return Simple(name) if not args else Usage(f"`{name}` takes no arguments.", name)
    parsers = {"log": _parse_log, "status": _parse_status, "use": _parse_use,
               "void": _parse_void, "start": _parse_start, "patient": _parse_patient,
               "staff": _parse_staff, "call": _parse_call, "calls": _parse_calls,
               "report": _parse_report, "packet": _parse_packet, "month": _parse_month}
    if name == "stop":
        return Stop(_free_text(args))
    if name in parsers:
        return parsers[name](args)
    if looks_like_duration(words[0]) or (len(words) > 1 and looks_like_duration(words[1])):
        return Usage(f"Unknown command {quoted(words[0])}. Did you mean `/rpm log {raw}`?", "log")
    return _unknown_command(words[0])


def _unknown_command(word: str) -> Usage:
    """The closest command and its one-line usage, not the whole help: a typo such as
    `stauts` needs one line, not forty."""
    near = closest(word, USAGE, limit=1)
    if not near:
        return Usage(f"Unknown command {quoted(word)}.", "help", brief=True)
    return Usage(f"Unknown command {quoted(word)}. Did you mean `{near[0]}`?", near[0], brief=True)


def help_text(topic: str | None = None) -> str:
    """Usage with examples: all commands, or one."""
    rows = [c for c in COMMANDS if topic is None or c[0] == topic]
    lines = [] if topic else ["*/rpm commands* (replies are only visible to you)"]
    lines += [f"• `{usage}`\n    e.g. `{example}`" for _, usage, example in rows]
    if topic in (None, "log"):
        lines.append("DURATION: 12m, 12 min, 1h5m, 1:05, 90s · ACTIVITY: "
                     + ", ".join(ACTIVITIES) + " (`call` is live; add `live` for video etc.; "
                     "`attempt` is a call that reached no one: never live)")
    return "\n".join(lines)


def usage_text(usage: Usage) -> str:
    reason = (usage.reason or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    head = f"{reason}\n" if reason else ""
    if usage.brief and usage.topic in USAGE:
        return f"{head}Usage: `{USAGE[usage.topic]}`\n`/rpm help` lists every command."
    return head + "Usage:\n" + help_text(usage.topic) + (
        "" if usage.topic is None else "\n`/rpm help` lists every command.")


__all__ = ["Command", "parse", "help_text", "usage_text"]
