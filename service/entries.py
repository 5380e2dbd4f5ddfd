"""Time entries: logging, voiding, listing. Append-only: a correction voids, never deletes."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.activities import check_live, is_live_by_default, parse_activity
from billing.codes import ROLES_THAT_COUNT
from billing.durations import parse_duration
from billing.errors import quoted
from billing.months import Month, clinic_day, clinic_time, months_spanned, start_of_day_utc
from billing.programme import Window
from billing.tally import EntryCount, EntryTime, share_seconds
from service import audit
from service.closes import AMEND_LOG, AMEND_VOID, Amendment, check_open
from service.context import ServiceContext
from service.errors import BadInput, NotAllowed, NotFound, parse_row_id
from service.lookups import require_active_staff, require_patient, require_staff
from service.months import MonthService
from service.views import EntryView, LoggedEntry, staff_label
from store import entries as entry_rows
from store import episodes as episode_rows
from store.db import Conn
from store.month_totals import CLINIC, Scope, month_totals

SOURCES = ("cli", "slack", "twilio", "web", "voice")
MAX_NOTE_CHARS = entry_rows.MAX_NOTE_CHARS
MAX_REASON_CHARS = entry_rows.MAX_REASON_CHARS
LATE_ENTRY_START = time(9, 0)  # late entries are placed from 09:00 clinic time on


@dataclass(frozen=True)
class LogRequest:
    """A log as an adapter parsed it; the service checks every field."""

    patient: str
    duration: str
    activity: str
    staff: str  # Slack user id of who furnished the time
    source: str
    note: str | None = None
    started_at: datetime | None = None  # None: the entry ends now
    # None: clock-timed when a start was given; False: a start placed by convention (a late
    # chat entry at 09:00), which is no more a real time than "ends now"
    clock_timed: bool | None = None
    live: bool = False
    amendment: Amendment | None = None  # needed when the entry's month is closed
    patient_by_phone: bool = True  # False: `patient` is a clinic id only (chat)
    # the adapter's key for this request (a Slack command's journal key), kept as the entry's
    # external reference: the same request run twice never saves two entries
    external_ref: str | None = None
    # a request run after it was asked (a Slack command replayed after the server was
    # killed): the entry ends then, not now, "yesterday" is that day's, and an entry already
    # saved under `external_ref` (the first run committed before the kill) is the answer
    asked_at: datetime | None = None
    # an operator's entry for someone else (the CLI's `log --staff`): a member inactive now
    # may still be credited with time that started and ended before their inactive-from
    # instant (an offboarding's dropped timer, docs/people.md); self-logging (chat, voice)
    # by an inactive member stays refused
    before_inactive: bool = False


@dataclass(frozen=True)
class _Entry:
    """What one log writes, every field checked (the duration parsed once)."""

    seconds: int
    activity: str
    note: str | None
    source: str
    live: bool
    clock_timed: bool
    start: datetime | None  # None: a late entry, placed inside the write (see _late_start)


def _entry_view(row: Any, *, clinic_id: str, initials: str | None, staff_slack_id: str,
                staff_name: str | None, month_seconds: int | None = None,
                count: EntryCount | None = None,
                voided_by_name: str | None = None) -> EntryView:
    return EntryView(
        row.id, clinic_id, staff_slack_id, row.started_at, row.ended_at,
        row.duration_seconds, row.activity, row.live, row.source, row.note,
        row.staff_role, row.overlaps_entry_id, row.created_at, row.created_by,
        row.voided_at, row.voided_by, row.void_reason, row.amendment_reason,
        initials, staff_name, row.void_amendment_reason, row.clock_timed,
        month_seconds, count, voided_by_name,
    )


def _named_view(row: Any, month_seconds: int | None = None,
                count: EntryCount | None = None) -> EntryView:
    """The view of a row read with names (store.entries: `patient_clinic_id`, ...)."""
    return _entry_view(row, clinic_id=row.patient_clinic_id, initials=row.patient_initials,
                       staff_slack_id=row.staff_slack_id, staff_name=row.staff_name,
                       month_seconds=month_seconds, count=count,
                       voided_by_name=row.voided_by_name)


def _snapshot(row: Any) -> dict[str, Any]:
    """The entry's own columns as the audit trail keeps them (its creation time is the
    audit row's own)."""
    values = row._mapping
    return {name: values[name] for name in entry_rows.COLUMNS if name != "created_at"}


def _staff_credited(conn: Conn, slack_user_id: str) -> Any:
    """The member an operator logs time for: known (a malformed or unknown id is refused as
    for any actor), active or not; the caller checks an inactive member's instant."""
    return require_staff(conn, slack_user_id)


def _check_enrolled(conn: Conn, patient: Any, day: date) -> None:
    """Refuse time on a day in none of the patient's enrolment episodes. Inside the latest
    episode (the patient row's dates) no episode needs reading."""
    if Window(patient.enrolled_on, patient.ended_on).outside(day) is None:
        return
    outside = episode_rows.enrolment(conn, patient).outside(day)
    if outside is None:
        return
    why, edge = outside
    said = f"was enrolled on {edge}" if why == "enrolled" else f"ended monitoring on {edge}"
    raise BadInput(f"{patient.clinic_id} {said}; time on {day} cannot be logged.")


def _clinic_day(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds of the clinic day `instant` falls on (DST-safe)."""
    return _day_bounds(instant.astimezone(zone).date(), zone)


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return start_of_day_utc(day, zone), start_of_day_utc(day + timedelta(days=1), zone)


def _check_months_open(conn: Conn, months: tuple[Month, ...],
                       amendment: Amendment | None, *, zone: ZoneInfo,
                       way_out: str) -> str | None:
    """check_open for every month an entry has time in: a close of either month of an entry
    across midnight locks it. The amendment reason, if any month needed one."""
    reasons = [check_open(conn, month, amendment, zone=zone, way_out=way_out)
               for month in months]
    return next((r for r in reasons if r is not None), None)


def parse_entry_id(text: str | int) -> int:
    """Entry ids as people type them: 12 or #12."""
    number = parse_row_id(str(text).strip().lstrip("#"))
    if number is None:
        raise BadInput(f"{quoted(str(text))} is not an entry id (a number such as 12).")
    return number


class EntryService:
    def __init__(self, ctx: ServiceContext, months: MonthService | None = None) -> None:
        self.ctx = ctx
        self.months = months or MonthService(ctx)

    def log(self, request: LogRequest, *, actor: str | None = None,
            repeat_window: timedelta | None = None, day: date | None = None,
            reply: bool = False) -> LoggedEntry:
        """Log time in one transaction; the returned summary is read in it, after the write.

        `day`: a late entry for that clinic day (before today), placed from 09:00 or after
        the author's last entry that day, so two late entries never read as overlapping work;
        today means "ends now". With `repeat_window`, the reply also names the author's
        identical entry (patient, duration, activity) saved within that window: chat warns of
        double submissions. The insert itself returns it (store.entries, `repeat_of`), so it
        costs no statement and can never turn a saved entry into a "not saved" reply.
        `reply`: the summary is what a chat reply shows (MonthService.reply_in)."""
        now = self.ctx.now()
        day, entry = self._prepared(request, request.asked_at or now, day)
        with self.ctx.db.write() as conn:
            return self._log_prepared(conn, request, entry, now=now, day=day, actor=actor,
                                      repeat_window=repeat_window, reply=reply)

    def log_within(self, conn: Conn, request: LogRequest, *, actor: str | None = None,
                   repeat_window: timedelta | None = None,
                   day: date | None = None, reply: bool = False) -> LoggedEntry:
        """`log` inside the caller's write transaction (chat's log for the conversation's
        patient, read in the same transaction), its fields checked first."""
        now = self.ctx.now()
        day, entry = self._prepared(request, request.asked_at or now, day)
        return self._log_prepared(conn, request, entry, now=now, day=day, actor=actor,
                                  repeat_window=repeat_window, reply=reply)

    def _prepared(self, request: LogRequest, now: datetime,
                  day: date | None) -> tuple[date | None, _Entry]:
        """The late entry's day (None: today, "ends now") and the checked fields; `now` is
        when the request was asked (a replay's `asked_at`)."""
        if day is not None:
            today = now.astimezone(self.ctx.policy.zone).date()
            if day > today:
                raise BadInput(f"{day} is in the future: time can be logged only once it "
                               "has been spent.")
            if day == today:
                day = None
        return day, self._checked(request, now, late=day is not None)

    def _log_prepared(self, conn: Conn, request: LogRequest, entry: _Entry, *,
                      now: datetime, day: date | None, actor: str | None,
                      repeat_window: timedelta | None, reply: bool = False) -> LoggedEntry:
        staff = (_staff_credited(conn, request.staff) if request.before_inactive
                 else require_active_staff(conn, request.staff, doing="log time"))
        if request.asked_at is not None and request.external_ref is not None:
            saved = entry_rows.with_names_by_external_ref(conn, request.external_ref)
            if saved is not None:  # the first run committed: its entry, never a second
                return self._logged_before(conn, saved)
        start = entry.start
        if day is not None:
            start = self._late_start(conn, staff.id, day, entry.seconds)
        patient = require_patient(conn, request.patient, region=self.ctx.policy.phone_region,
                                  by_phone=request.patient_by_phone)
        assert start is not None
        if not staff.active:
            self._check_before_inactive(staff, start, start + timedelta(seconds=entry.seconds))
        return self._log_in(conn, entry, start=start, staff=staff, patient=patient,
                            actor=actor, amendment=request.amendment,
                            external_ref=request.external_ref,
                            repeat_since=now - repeat_window if repeat_window else None,
                            reply=reply)

    def _check_before_inactive(self, staff: Any, start: datetime, end: datetime) -> None:
        """An inactive member is credited only with time wholly before their inactive-from
        instant (none when no instant is recorded: inactive since ever)."""
        since = staff.inactive_from
        if since is None:
            raise NotAllowed(f"{staff.slack_user_id} is inactive (since before the instant "
                             "was recorded) and cannot be credited with time.")
        if start >= since or end > since:
            zone = self.ctx.policy.zone
            raise NotAllowed(
                f"{staff.slack_user_id} is inactive from {clinic_time(since, zone)}: only "
                "time that started and ended before that instant can be logged for them "
                f"(this entry runs {clinic_time(start, zone)} to {clinic_time(end, zone)}).")

    def _logged_before(self, conn: Conn, row: Any) -> LoggedEntry:
        """The reply to a log already saved (a replay whose first run committed): the entry
        and its month as they stand now. Its overlap or repeat warning was the first run's
        to give; its reply did not survive the kill, so they are not said again."""
        summary = self.months.summary_in(
            conn, Month.containing(row.started_at, self.ctx.policy.zone), row.patient_id)
        return LoggedEntry(entry=_named_view(row, count=summary.entry_count(row.id)),
                           summary=summary, overlaps=None,
                           time_counts=row.staff_role in ROLES_THAT_COUNT)

    def check(self, request: LogRequest, *, late: bool) -> None:
        """The request's fields as a log would refuse them, before a patient is picked: a
        nurse is not asked which patient a '0m' or '１２m' log is for, only to be refused."""
        self._checked(request, request.asked_at or self.ctx.now(), late=late)

    def _checked(self, request: LogRequest, now: datetime, *, late: bool) -> _Entry:
        """Every field of the request checked before any trip to the database."""
        seconds = parse_duration(request.duration, max_seconds=self.ctx.policy.max_entry_seconds)
        activity = parse_activity(request.activity)
        if request.source not in SOURCES:
            raise BadInput(f"Unknown source '{request.source}'.")
        note = (request.note or "").strip() or None
        if note and len(note) > MAX_NOTE_CHARS:
            raise BadInput(f"The note is over {MAX_NOTE_CHARS} characters.")
        check_live(activity, request.live)
        live = request.live or is_live_by_default(activity)
        if late:  # placed at 09:00 by convention, not a time anyone gave: estimated
            return _Entry(seconds, activity, note, request.source, live, False, None)
        start = request.started_at or now - timedelta(seconds=seconds)
        if start.tzinfo is None:
            raise BadInput("The start time needs a time zone.")
        start = start.astimezone(UTC)
        if start > now:
            raise BadInput("The start time is in the future: time can be logged only once "
                           "it has been spent.")
        clock_timed = (request.started_at is not None if request.clock_timed is None
                       else request.clock_timed)
        return _Entry(seconds, activity, note, request.source, live, clock_timed, start)

    def _late_start(self, conn: Conn, staff_pk: int, day: date, seconds: int) -> datetime:
        """09:00 that clinic day, or the end of the author's last entry that day when that
        is later and the new entry still ends within the day."""
        zone = self.ctx.policy.zone
        bounds = _day_bounds(day, zone)
        start = datetime.combine(day, LATE_ENTRY_START, tzinfo=zone)
        latest = entry_rows.latest_end_on_day(conn, staff_pk=staff_pk, day=bounds)
        if latest is not None and latest > start and \
                latest + timedelta(seconds=seconds) <= bounds[1]:
            start = latest
        return start.astimezone(UTC)

    def log_in(self, conn: Conn, request: LogRequest, *, staff: Any, patient: Any,
               started_at: datetime, actor: str | None = None,
               external_ref: str | None = None) -> LoggedEntry:
        """A clock-timed log from `started_at` inside the caller's transaction, for an actor
        and patient it has already read (a timer's stop)."""
        entry = self._checked(request, self.ctx.now(), late=False)
        return self._log_in(conn, entry, start=started_at.astimezone(UTC), staff=staff,
                            patient=patient, actor=actor, amendment=request.amendment,
                            external_ref=external_ref)

    def _log_in(self, conn: Conn, entry: _Entry, *, start: datetime, staff: Any,
                patient: Any, actor: str | None, amendment: Amendment | None,
                external_ref: str | None = None,
                repeat_since: datetime | None = None, reply: bool = False) -> LoggedEntry:
        zone = self.ctx.policy.zone
        _check_enrolled(conn, patient, start.astimezone(zone).date())
        end = start + timedelta(seconds=entry.seconds)
        amendment_reason = _check_months_open(conn, months_spanned(start, end, zone),
                                              amendment, zone=zone, way_out=AMEND_LOG)
        row, overlap = self._insert(
            conn, staff=staff, patient=patient, start=start, end=end, seconds=entry.seconds,
            activity=entry.activity, note=entry.note, source=entry.source, live=entry.live,
            clock_timed=entry.clock_timed, external_ref=external_ref,
            # an amendment is the amender's write (the CLI's operator, an admin), not the
            # staff member's it is logged for (outside auditor: it named the nurse)
            created_by=actor or (amendment.by if amendment is not None and amendment_reason
                                 else staff.slack_user_id),
            amendment_reason=amendment_reason,
            repeat_since=repeat_since)
        repeats = int(row.repeat_of) if repeat_since and row.repeat_of is not None else None
        month = Month.containing(start, zone)
        summary = (self.months.reply_in(conn, month, patient.id, EntryTime(
            int(row.id), int(staff.id), row.staff_role, row.started_at, row.ended_at,
            bool(row.live), bool(row.clock_timed), False)) if reply
            else self.months.summary_in(conn, month, patient.id))
        return LoggedEntry(
            entry=_entry_view(row, clinic_id=patient.clinic_id, initials=patient.initials,
                              staff_slack_id=staff.slack_user_id, staff_name=staff.name,
                              count=summary.entry_count(row.id)),
            summary=summary,
            overlaps=_named_view(overlap) if overlap is not None else None,
            time_counts=staff.role in ROLES_THAT_COUNT, repeats=repeats,
        )

    def _insert(self, conn: Conn, *, staff: Any, patient: Any, start: datetime,
                end: datetime, seconds: int, activity: str, note: str | None, source: str,
                live: bool, clock_timed: bool, external_ref: str | None, created_by: str,
                amendment_reason: str | None = None,
                repeat_since: datetime | None = None) -> tuple[Any, Any]:
        """The overlap check, the insert and its audit row: the entry's row and the
        author's first standing clock-timed entry it overlaps (with names), if any. With
        `repeat_since`, the row's `repeat_of` names the author's identical entry saved since
        then on the same clinic day (chat's double-submission check, in the insert).

        An estimated entry ends "now" by convention, so its minutes are not a fact anyone
        gave: it never flags an overlap and is never flagged (docs/billing-rules.md, issue
        13 #5)."""
        overlap = entry_rows.first_clock_timed_overlap(
            conn, staff_pk=staff.id, start=start, end=end) if clock_timed else None
        row = entry_rows.insert_entry(conn, {
            "patient_id": patient.id, "staff_id": staff.id, "started_at": start,
            "ended_at": end, "duration_seconds": seconds, "activity": activity, "note": note,
            "source": source, "live": live, "clock_timed": clock_timed,
            "staff_role": staff.role, "external_ref": external_ref,
            "overlaps_entry_id": overlap.id if overlap is not None else None,
            "created_at": self.ctx.now(), "created_by": created_by,
            "amendment_reason": amendment_reason, "voided_at": None, "voided_by": None,
            "void_reason": None, "void_amendment_reason": None,
        }, repeat_since=repeat_since,
            day=_clinic_day(start, self.ctx.policy.zone) if repeat_since else None)
        audit.record(conn, at=row.created_at, actor=row.created_by, action="entry.log",
                     entity="entry", entity_id=row.id, after=_snapshot(row))
        return row, overlap

    def record_external_in(
        self, conn: Any, *, patient: Any, staff: Any, seconds: int,
        ended_at: datetime, activity: str, live: bool, source: str, external_ref: str,
        actor: str, note: str | None = None, fresh: bool = False,
    ) -> Any:
        """An entry keyed by `external_ref` inside the caller's transaction (`conn`: its
        Core connection), idempotently: the
        entry's row (`.id`, ...). `patient` and `staff` are rows the caller read.

        Machine-reported time (a Twilio call) arrives more than once and from racing
        deliveries: an existing entry with the reference is returned unchanged, and two
        racing inserts hit the unique reference, so the loser's transaction rolls back
        (StoreConflict) and its retry finds the winner's entry.
        """
        # `fresh`: the caller creates what the reference names in this transaction, so no
        # entry can have it yet (a racing twin still hits the unique key)
        existing = None if fresh else entry_rows.by_external_ref(conn, external_ref)
        if existing is not None:
            return existing
        if source not in SOURCES:
            raise BadInput(f"Unknown source '{source}'.")
        if seconds <= 0 or seconds > self.ctx.policy.max_entry_seconds:
            raise BadInput(f"{seconds} s is not a duration that can be logged.")
        start = ended_at.astimezone(UTC) - timedelta(seconds=seconds)
        _check_enrolled(conn, patient, start.astimezone(self.ctx.policy.zone).date())
        row, _ = self._insert(
            conn, staff=staff, patient=patient, start=start, end=ended_at, seconds=seconds,
            activity=parse_activity(activity), note=note, source=source, live=live,
            clock_timed=True, external_ref=external_ref, created_by=actor)
        return row

    def void(self, entry_id: str | int, *, reason: str, by: str,
             amendment: Amendment | None = None) -> EntryView:
        """Void an entry: only its author or an admin, with a reason, and only once; in a
        closed month only as an admin amendment."""
        number = parse_entry_id(entry_id)
        why = self._void_reason(reason)
        with self.ctx.db.write() as conn:
            actor = require_active_staff(conn, by, doing="void entries")
            entry = entry_rows.with_names(conn, number)
            if entry is None:
                raise NotFound(f"No entry #{number}.")
            return self.void_in(conn, entry, actor=actor, reason=why, amendment=amendment)

    @staticmethod
    def _void_reason(reason: str) -> str:
        why = (reason or "").strip()
        if not why:
            raise BadInput("A void needs a reason (auditors read it).")
        if len(why) > MAX_REASON_CHARS:  # checked here: the void is a Core UPDATE
            raise BadInput(f"The reason is over {MAX_REASON_CHARS} characters.")
        return why

    def void_in(self, conn: Conn, entry: Any, *, actor: Any, reason: str,
                amendment: Amendment | None = None) -> EntryView:
        """Void `entry` (a row read with names in this transaction) as `actor`: one
        conditional UPDATE, so of racing voids exactly one succeeds."""
        if entry.voided_at is not None:
            raise self._already_voided(entry)
        if entry.staff_id != actor.id and not actor.is_admin:
            raise NotAllowed(f"Only the author of entry #{entry.id} or an admin may void it.")
        zone = self.ctx.policy.zone
        amended = _check_months_open(conn, months_spanned(
            entry.started_at, entry.ended_at, zone), amendment, zone=zone,
            way_out=AMEND_VOID)
        voided = entry_rows.void_if_standing(conn, entry.id, at=self.ctx.now(),
                                             by=actor.slack_user_id, reason=reason,
                                             amendment_reason=amended)
        if voided is None:  # another void committed first: say whose
            winner = entry_rows.with_names(conn, entry.id)
            raise self._already_voided(winner if winner is not None else entry)
        after = _snapshot(voided) | ({"amendment_reason": amended} if amended else {})
        audit.record(conn, at=voided.voided_at, actor=actor.slack_user_id,
                     action="entry.void", entity="entry", entity_id=entry.id,
                     before=_snapshot(entry), after=after)
        return _entry_view(voided, clinic_id=entry.patient_clinic_id,
                           initials=entry.patient_initials, staff_slack_id=entry.staff_slack_id,
                           staff_name=entry.staff_name, voided_by_name=actor.name)

    def _already_voided(self, entry: Any) -> BadInput:
        """The refusal of a second void: when (clinic day) and by whom the first was."""
        assert entry.voided_at is not None
        return BadInput(f"Entry #{entry.id} was already voided on "
                        f"{clinic_day(entry.voided_at, self.ctx.policy.zone)} by "
                        f"{staff_label(entry.voided_by, entry.voided_by_name)}.")

    def get(self, entry_id: str | int) -> EntryView:
        number = parse_entry_id(entry_id)
        with self.ctx.db.read() as conn:
            entry = entry_rows.with_names(conn, number)
            if entry is None:
                raise NotFound(f"No entry #{number}.")
            return _named_view(entry)

    def for_patient_month(self, patient_ref: str, month: Month) -> list[EntryView]:
        """Every entry of the patient's month, voided ones included, oldest first."""
        with self.ctx.db.read() as conn:
            patient = require_patient(conn, patient_ref, region=self.ctx.policy.phone_region)
            return self.month_entries_in(conn, month, patient.id)

    def for_month(self, month: Month) -> list[EntryView]:
        """Every entry of the month for every patient, voided ones included (audit export)."""
        with self.ctx.db.read() as conn:
            return self.month_entries_in(conn, month, None)

    def month_entries_in(
        self, conn: Conn, month: Month, patient_pk: int | None
    ) -> list[EntryView]:
        """The month's entries, each with its share of the month (split at clinic midnight)
        and what the month's tally counts of it (the same tally as status and report)."""
        start, end = month.bounds_utc(self.ctx.policy.zone)
        rows = entry_rows.touching_with_names(conn, start=start, end=end,
                                              patient_pk=patient_pk)
        counts = self._counts(conn, month, {e.patient_id for e in rows})
        return [_named_view(e, share_seconds(e.started_at, e.ended_at, start, end),
                            counts.get(e.id)) for e in rows]

    def _counts(self, conn: Conn, month: Month,
                patient_pks: set[int]) -> dict[int, EntryCount]:
        """Each entry's count from its patient's month tally (store.month_totals, the query
        status and report read): one patient's month, or one clinic scan plus one query for
        each patient outside the month's programme (the scan leaves them out)."""
        counts: dict[int, EntryCount] = {}

        def read(scope: Scope) -> set[int]:
            found = set()
            for totals in month_totals(
                    conn, month=month, zone=self.ctx.policy.zone,
                    min_live_seconds=self.ctx.policy.min_live_call_seconds, scope=scope):
                if totals.patient_pk in patient_pks:
                    found.add(totals.patient_pk)
                    counts.update((c.entry_id, c) for c in totals.tally.by_entry)
            return found

        seen = read(CLINIC) if len(patient_pks) > 1 else set()
        for pk in sorted(patient_pks - seen):
            read(Scope(pk))
        return counts
