"""Time entries: logging, voiding, listing. Append-only: a correction voids, never deletes."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import Session, select

from billing.activities import is_live_by_default, parse_activity
from billing.codes import ROLES_THAT_COUNT
from billing.durations import parse_duration
from billing.errors import quoted
from billing.months import Month, clinic_day, months_spanned, start_of_day_utc
from billing.tally import EntryCount, share_seconds
from service import audit
from service.closes import AMEND_LOG, AMEND_VOID, Amendment, check_open
from service.context import ServiceContext
from service.errors import BadInput, NotAllowed, NotFound, parse_row_id
from service.months import MonthService
from service.patients import require_patient
from service.staff import require_staff
from service.views import EntryView, LoggedEntry
from store.entries import first_clock_timed_overlap, void_if_standing
from store.models import Patient, Staff, TimeEntry, text_limit
from store.month_totals import CLINIC, Scope, entries_touching, month_totals

SOURCES = ("cli", "slack", "twilio", "web")
MAX_NOTE_CHARS = text_limit(TimeEntry.note)
MAX_REASON_CHARS = text_limit(TimeEntry.void_reason)


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


def _entry_view(session: Session, entry: TimeEntry,
                month_seconds: int | None = None, count: EntryCount | None = None) -> EntryView:
    patient = session.get(Patient, entry.patient_id)
    staff = session.get(Staff, entry.staff_id)
    assert patient is not None and staff is not None and entry.id is not None
    return EntryView(
        entry.id, patient.clinic_id, staff.slack_user_id, entry.started_at, entry.ended_at,
        entry.duration_seconds, entry.activity, entry.live, entry.source, entry.note,
        entry.staff_role, entry.overlaps_entry_id, entry.created_at, entry.created_by,
        entry.voided_at, entry.voided_by, entry.void_reason, entry.amendment_reason,
        patient.initials, staff.name, entry.void_amendment_reason, entry.clock_timed,
        month_seconds, count,
    )


def _snapshot(entry: TimeEntry) -> dict[str, Any]:
    return entry.model_dump(exclude={"created_at"})


def _check_enrolled(patient: Patient, day: date) -> None:
    if patient.enrolled_on and day < patient.enrolled_on:
        raise BadInput(f"{patient.clinic_id} was enrolled on {patient.enrolled_on}; "
                       f"time on {day} cannot be logged.")
    if patient.ended_on and day > patient.ended_on:
        raise BadInput(f"{patient.clinic_id} ended monitoring on {patient.ended_on}; "
                       f"time on {day} cannot be logged.")


# Run on every log / recorded call: built once, run with bound values.
_BY_EXTERNAL_REF = select(TimeEntry).where(TimeEntry.external_ref == bindparam("ref"))
_IDENTICAL_SINCE = select(TimeEntry.id).where(
    TimeEntry.staff_id == bindparam("staff"), TimeEntry.patient_id == bindparam("patient"),
    TimeEntry.duration_seconds == bindparam("seconds"),
    TimeEntry.activity == bindparam("activity"),
    TimeEntry.voided_at.is_(None),  # type: ignore[union-attr]
    TimeEntry.created_at >= bindparam("since"),
    TimeEntry.started_at >= bindparam("day_start"), TimeEntry.started_at < bindparam("day_end"),
).order_by(TimeEntry.id.desc()).limit(1)  # type: ignore[union-attr]


def _first_overlap(
    session: Session, staff_id: int, start: datetime, end: datetime, *, clock_timed: bool
) -> TimeEntry | None:
    """The author's first standing clock-timed entry sharing minutes with a clock-timed one.

    An estimated entry ends "now" by convention, so its minutes are not a fact anyone gave:
    it never flags an overlap and is never flagged (docs/billing-rules.md, issue 13 #5)."""
    if not clock_timed:
        return None
    return first_clock_timed_overlap(session, staff_pk=staff_id, start=start, end=end)


def _identical_since(session: Session, staff_id: int, patient_id: int, seconds: int,
                     activity: str, since: datetime, day: tuple[datetime, datetime]) -> int | None:
    """The author's latest standing entry with the same patient, duration and activity,
    saved since `since` for the same clinic day (`day`: its UTC bounds). The same 12 minutes
    logged for today and for yesterday are two days' work, not a double submission."""
    return session.exec(_IDENTICAL_SINCE, params={
        "staff": staff_id, "patient": patient_id, "seconds": seconds, "activity": activity,
        "since": since, "day_start": day[0], "day_end": day[1]}).first()


def _clinic_day(instant: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds of the clinic day `instant` falls on (DST-safe)."""
    day = instant.astimezone(zone).date()
    return start_of_day_utc(day, zone), start_of_day_utc(day + timedelta(days=1), zone)


def _check_months_open(session: Session, months: tuple[Month, ...],
                       amendment: Amendment | None, *, zone: ZoneInfo,
                       way_out: str) -> str | None:
    """check_open for every month an entry has time in: a close of either month of an entry
    across midnight locks it. The amendment reason, if any month needed one."""
    reasons = [check_open(session, month, amendment, zone=zone, way_out=way_out)
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
            repeat_window: timedelta | None = None) -> LoggedEntry:
        """Log time; the returned summary is read in the same transaction as the write.

        With `repeat_window`, the reply also names the author's identical entry (patient,
        duration, activity) saved within that window: chat warns of double submissions. It
        is read in the write's transaction, before the insert, so it costs no second trip
        and can never turn a saved entry into a "not saved" reply."""
        seconds = parse_duration(request.duration, max_seconds=self.ctx.policy.max_entry_seconds)
        activity = parse_activity(request.activity)
        if request.source not in SOURCES:
            raise BadInput(f"Unknown source '{request.source}'.")
        note = (request.note or "").strip() or None
        if note and len(note) > MAX_NOTE_CHARS:
            raise BadInput(f"The note is over {MAX_NOTE_CHARS} characters.")
        now = self.ctx.now()
        start = request.started_at or now - timedelta(seconds=seconds)
        if start.tzinfo is None:
            raise BadInput("The start time needs a time zone.")
        start = start.astimezone(UTC)
        if start > now:
            raise BadInput("The start time is in the future: time can be logged only once "
                           "it has been spent.")
        clock_timed = (request.started_at is not None if request.clock_timed is None
                       else request.clock_timed)
        return self._write(request, seconds=seconds, activity=activity, note=note, start=start,
                           live=request.live or is_live_by_default(activity), actor=actor,
                           clock_timed=clock_timed,
                           repeat_since=now - repeat_window if repeat_window else None)

    def _write(self, request: LogRequest, *, seconds: int, activity: str, note: str | None,
               start: datetime, live: bool, actor: str | None, clock_timed: bool,
               external_ref: str | None = None,
               repeat_since: datetime | None = None) -> LoggedEntry:
        zone = self.ctx.policy.zone
        with self.ctx.db.write_session() as session:
            staff = require_staff(session, request.staff)
            if not staff.active:
                raise NotAllowed(f"{staff.slack_user_id} is inactive and cannot log time.")
            patient = require_patient(session, request.patient,
                                      region=self.ctx.policy.phone_region,
                                      by_phone=request.patient_by_phone)
            _check_enrolled(patient, start.astimezone(zone).date())
            month = Month.containing(start, zone)
            end = start + timedelta(seconds=seconds)
            amendment_reason = _check_months_open(session, months_spanned(start, end, zone),
                                                  request.amendment, zone=zone,
                                                  way_out=AMEND_LOG)
            assert staff.id is not None and patient.id is not None
            overlap = _first_overlap(session, staff.id, start, end, clock_timed=clock_timed)
            repeats = _identical_since(
                session, staff.id, patient.id, seconds, activity, repeat_since,
                _clinic_day(start, zone)) if repeat_since else None
            entry = TimeEntry(
                patient_id=patient.id, staff_id=staff.id, started_at=start, ended_at=end,
                duration_seconds=seconds, activity=activity, note=note, source=request.source,
                live=live, clock_timed=clock_timed, staff_role=staff.role,
                external_ref=external_ref, overlaps_entry_id=overlap.id if overlap else None,
                created_at=self.ctx.now(), created_by=actor or staff.slack_user_id,
                amendment_reason=amendment_reason,
            )
            session.add(entry)
            session.flush()
            audit.record(session, at=entry.created_at, actor=entry.created_by,
                         action="entry.log", entity="entry", entity_id=entry.id,
                         after=_snapshot(entry))
            summary = self.months.summary_in(session, month, patient.id)
            return LoggedEntry(
                entry=_entry_view(session, entry, count=summary.entry_count(entry.id or 0)),
                summary=summary,
                overlaps=_entry_view(session, overlap) if overlap else None,
                time_counts=staff.role in ROLES_THAT_COUNT, repeats=repeats,
            )

    def record_external_in(
        self, session: Session, *, patient: Patient, staff: Staff, seconds: int,
        ended_at: datetime, activity: str, live: bool, source: str, external_ref: str,
        actor: str, note: str | None = None,
    ) -> TimeEntry:
        """An entry keyed by `external_ref` inside the caller's transaction, idempotently.

        Machine-reported time (a Twilio call) arrives more than once and from racing
        deliveries: an existing entry with the reference is returned unchanged, and two
        racing inserts hit the unique reference, so the loser's transaction rolls back
        (StoreConflict) and its retry finds the winner's entry.
        """
        existing = session.exec(_BY_EXTERNAL_REF, params={"ref": external_ref}).first()
        if existing is not None:
            return existing
        if source not in SOURCES:
            raise BadInput(f"Unknown source '{source}'.")
        if seconds <= 0 or seconds > self.ctx.policy.max_entry_seconds:
            raise BadInput(f"{seconds} s is not a duration that can be logged.")
        start = ended_at.astimezone(UTC) - timedelta(seconds=seconds)
        _check_enrolled(patient, start.astimezone(self.ctx.policy.zone).date())
        assert staff.id is not None and patient.id is not None
        overlap = _first_overlap(session, staff.id, start, ended_at, clock_timed=True)
        entry = TimeEntry(
            patient_id=patient.id, staff_id=staff.id, started_at=start, ended_at=ended_at,
            duration_seconds=seconds, activity=parse_activity(activity), note=note,
            source=source, live=live, clock_timed=True, staff_role=staff.role,
            external_ref=external_ref, overlaps_entry_id=overlap.id if overlap else None,
            created_at=self.ctx.now(), created_by=actor,
        )
        session.add(entry)
        session.flush()
        audit.record(session, at=entry.created_at, actor=actor, action="entry.log",
                     entity="entry", entity_id=entry.id, after=_snapshot(entry))
        return entry

    def void(self, entry_id: str | int, *, reason: str, by: str,
             amendment: Amendment | None = None) -> EntryView:
        """Void an entry: only its author or an admin, with a reason, and only once; in a
        closed month only as an admin amendment."""
        number = parse_entry_id(entry_id)
        why = (reason or "").strip()
        if not why:
            raise BadInput("A void needs a reason (auditors read it).")
        if len(why) > MAX_REASON_CHARS:  # checked here: the void is a Core UPDATE, no flush
            raise BadInput(f"The reason is over {MAX_REASON_CHARS} characters.")
        with self.ctx.db.write_session() as session:
            actor = require_staff(session, by)
            entry = session.get(TimeEntry, number)
            if entry is None:
                raise NotFound(f"No entry #{number}.")
            if entry.voided_at is not None:
                raise self._already_voided(entry)
            if entry.staff_id != actor.id and not actor.is_admin:
                raise NotAllowed(f"Only the author of entry #{number} or an admin may void it.")
            zone = self.ctx.policy.zone
            amended = _check_months_open(session, months_spanned(
                entry.started_at, entry.ended_at, zone), amendment, zone=zone,
                way_out=AMEND_VOID)
            before = _snapshot(entry)
            voided = void_if_standing(session, number, at=self.ctx.now(),
                                      by=actor.slack_user_id, reason=why,
                                      amendment_reason=amended)
            session.refresh(entry)  # the committed row: the winner's void when we lost
            if not voided:
                raise self._already_voided(entry)
            assert entry.voided_at is not None
            after = _snapshot(entry) | ({"amendment_reason": amended} if amended else {})
            audit.record(session, at=entry.voided_at, actor=actor.slack_user_id,
                         action="entry.void", entity="entry", entity_id=number,
                         before=before, after=after)
            return _entry_view(session, entry)

    def _already_voided(self, entry: TimeEntry) -> BadInput:
        """The refusal of a second void: when (clinic day) and by whom the first was."""
        assert entry.voided_at is not None
        return BadInput(f"Entry #{entry.id} was already voided on "
                        f"{clinic_day(entry.voided_at, self.ctx.policy.zone)} by "
                        f"{entry.voided_by}.")

    def get(self, entry_id: str | int) -> EntryView:
        number = parse_entry_id(entry_id)
        with self.ctx.db.read_session() as session:
            entry = session.get(TimeEntry, number)
            if entry is None:
                raise NotFound(f"No entry #{number}.")
            return _entry_view(session, entry)

    def for_patient_month(self, patient_ref: str, month: Month) -> list[EntryView]:
        """Every entry of the patient's month, voided ones included, oldest first."""
        with self.ctx.db.read_session() as session:
            patient = require_patient(session, patient_ref, region=self.ctx.policy.phone_region)
            assert patient.id is not None
            return self._month_entries(session, month, patient.id)

    def for_month(self, month: Month) -> list[EntryView]:
        """Every entry of the month for every patient, voided ones included (audit export)."""
        with self.ctx.db.read_session() as session:
            return self._month_entries(session, month, None)

    def _month_entries(
        self, session: Session, month: Month, patient_pk: int | None
    ) -> list[EntryView]:
        """The month's entries, each with its share of the month (split at clinic midnight)
        and what the month's tally counts of it (the same tally as status and report)."""
        start, end = month.bounds_utc(self.ctx.policy.zone)
        rows = entries_touching(session, start=start, end=end, patient_pk=patient_pk)
        counts = self._counts(session, month, {e.patient_id for e in rows})
        return [_entry_view(session, e, share_seconds(e.started_at, e.ended_at, start, end),
                            counts.get(e.id or 0)) for e in rows]

    def _counts(self, session: Session, month: Month,
                patient_pks: set[int]) -> dict[int, EntryCount]:
        """Each entry's count from its patient's month tally (store.month_totals, the query
        status and report read): one patient's month, or one clinic scan plus one query for
        each patient outside the month's programme (the scan leaves them out)."""
        def read(scope: Scope) -> set[int]:
            found = set()
            for totals in month_totals(
                    session, month=month, zone=self.ctx.policy.zone,
                    min_live_seconds=self.ctx.policy.min_live_call_seconds, scope=scope):
                if totals.patient_pk in patient_pks:
                    found.add(totals.patient_pk)
                    counts.update((c.entry_id, c) for c in totals.tally.by_entry)
            return found

        counts: dict[int, EntryCount] = {}
        seen = read(CLINIC) if len(patient_pks) > 1 else set()
        for pk in sorted(patient_pks - seen):
            read(Scope(pk))
        return counts
