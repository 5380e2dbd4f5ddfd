"""Mid-month at-risk reminders: who is told what, and delivery exactly once (docs/reminders.md).

The plan reuses `MonthService.at_risk`, so a reminder and `/rpm risk` never disagree. Delivery
is exactly-once by a claim row per (recipient, day) made in the database BEFORE anything is
sent: a second run the same day, a restart or a second replica finds the row and sends nothing
more. A failed send leaves the row `failed` and a later run the same day retries it. A claim
left `claimed` by a process that died is taken over after the lease; because that process may
have died after Slack accepted the message, the claim id travels in the message metadata and
the conversation's recent history is searched for it before anything is resent.

This module knows nothing about Slack: a `ReminderSender` (reminders/slack.py) renders and
delivers a `PlannedMessage` and can look for an earlier delivery.
"""

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from billing.months import Month
from billing.risk import CRITICAL, HIGH, WATCH
from service import audit
from service.context import ServiceContext
from service.devices import short_of_readings
from service.errors import BadInput, StoreConflict
from service.months import MonthService
from service.views import PatientRisk
from store import reminders as claims
from store.db import Conn
from store.reminders import ClaimRow

log = logging.getLogger("rpm_logger.reminders")

DM, CHANNEL, RUN = "dm", "channel", "run"
CLAIMED, SENT, FAILED = "claimed", "sent", "failed"
RUN_RECIPIENT = "*run*"  # the row that says "today's plan was worked through"
SEVERITIES = (CRITICAL, HIGH, WATCH)


@dataclass(frozen=True)
class ReminderOptions:
    """The reminder settings (REMINDER_* in the README), passed per call by the adapter."""

    start_day: int = 15
    channel: str | None = None
    send_time: time = time(9, 0)
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 5


class ShortOfReadings(NamedTuple):
    """A patient short of reading days in a reminder: who, how many days, by when, for
    which code."""

    patient: str  # clinic id and initials
    days: int
    by: date
    code: str


@dataclass(frozen=True)
class PlannedMessage:
    """One message of the day: a staff member's DM, or the channel's summary.

    `patients` holds a DM's at-risk patients, or the channel's unassigned ones, worst first;
    `counts` (channel only) is every at-risk patient of the clinic by severity.
    """

    kind: str
    recipient: str
    day: date
    month: str
    patients: tuple[PatientRisk, ...]
    counts: dict[str, int] = field(default_factory=dict)
    earned: Decimal = Decimal("0.00")  # channel only: the clinic's month so far, in dollars
    at_risk_amount: Decimal = Decimal("0.00")  # channel only: still to win from at-risk
    # a DM's patients whose device period still lacks reading days for a code it can reach
    # (issue 28; billing.devices.period_verdict): (clinic id and initials, reading days
    # needed, the period's last day, the code aimed at); the nurse is told to call about
    # the device. Counts only, never a reading's value.
    short_of_readings: tuple[ShortOfReadings, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind, "recipient": self.recipient, "date": self.day.isoformat(),
            "month": self.month, "patients": [patient_json(p) for p in self.patients],
        }
        if self.short_of_readings:
            data["short_of_readings"] = [
                {"patient": label, "reading_days_needed": days, "by": by.isoformat(),
                 "for": code} for label, days, by, code in self.short_of_readings]
        if self.kind == CHANNEL:
            data["counts"] = dict(self.counts)
            data["earned"] = float(self.earned)
            data["at_risk_amount"] = float(self.at_risk_amount)
        return data


def patient_json(row: PatientRisk) -> dict[str, Any]:
    """A reminder line as data: clinic id + initials, never more about the patient."""
    return {
        "patient": row.summary.label, "severity": row.risk.severity,
        "total_seconds": row.summary.total_seconds,
        "minutes": row.summary.total_seconds // 60,
        "live": row.summary.live_interactions > 0, "days_left": row.risk.days_left,
        "minutes_needed": row.risk.minutes_needed, "advice": row.risk.advice(),
    }


@dataclass(frozen=True)
class ReminderPlan:
    day: date
    month: str
    messages: tuple[PlannedMessage, ...]
    skipped: str | None = None  # why nothing is planned (before the start day)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """Where Slack put a message: the conversation and the message ts."""

    channel: str
    ts: str


class DeliveryFailed(RuntimeError):
    """The sender could not deliver (Slack said no, or could not be reached)."""


class ReminderSender(Protocol):
    def deliver(self, message: PlannedMessage, claim_id: str) -> Delivery:
        """Send `message` with `claim_id` in its metadata; raise on failure."""
        ...

    def find_delivered(self, message: PlannedMessage, claim_id: str,
                       since: datetime) -> Delivery | None:
        """The earlier message carrying `claim_id`, if Slack has it; raise if unsure."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What one run did with one planned message."""

    kind: str
    recipient: str
    status: str  # sent | confirmed | already_sent | in_flight | failed | gave_up | planned
    patients: int
    claim_id: str | None = None
    attempts: int = 0
    slack_ts: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "recipient": self.recipient, "status": self.status,
                "patients": self.patients, "claim_id": self.claim_id,
                "attempts": self.attempts, "slack_ts": self.slack_ts, "error": self.error}


@dataclass(frozen=True)
class ReminderRun:
    plan: ReminderPlan
    outcomes: tuple[Outcome, ...]
    dry_run: bool = False

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.plan.day.isoformat(), "month": self.plan.month,
            "dry_run": self.dry_run, "skipped": self.plan.skipped, "notes": list(self.plan.notes),
            "messages": [m.as_json() for m in self.plan.messages],
            "outcomes": [o.as_json() for o in self.outcomes],
        }


@dataclass(frozen=True)
class _Claim:
    """A claim this process holds: it may send (or confirm) and must then mark it."""

    pk: int
    claim_id: str
    attempts: int
    first_claimed_at: datetime
    resumed: bool  # taken over from a failed or stale claim: look in history first


class ReminderService:
    def __init__(self, ctx: ServiceContext, months: MonthService) -> None:
        self.ctx = ctx
        self.months = months

    def today(self) -> date:
        return self.months.today()

    # ----- planning (read-only) -----------------------------------------------------------

    def plan(self, day: date | None = None,
             options: ReminderOptions | None = None) -> ReminderPlan:
        """Who would be told what on `day` (clinic date; default today). Sends nothing."""
        options = options or ReminderOptions()
        day = day or self.today()
        month = Month.of_day(day)
        if day.day < _start_day(day, options):
            return ReminderPlan(day, str(month), (), skipped=(
                f"{day} is before the start day ({_start_day(day, options)}): no reminders"))
        active = self._active_staff()
        rows = self.months.at_risk(month, day)
        by_staff: dict[str, list[PatientRisk]] = {}
        unassigned: list[PatientRisk] = []
        for row in rows:  # already worst first; each list keeps that order
            owner = row.summary.assigned_to
            if owner and owner in active:
                by_staff.setdefault(owner, []).append(row)
            else:
                unassigned.append(row)
        short = self._short_of_readings(month, day, active)
        messages = [PlannedMessage(DM, staff, day, str(month),
                                   tuple(by_staff.get(staff, ())),
                                   short_of_readings=tuple(short.get(staff, ())))
                    for staff in sorted(set(by_staff) | set(short))]
        notes: list[str] = []
        if options.channel:
            counts = Counter(r.risk.severity for r in rows)
            totals = self.months.totals(month, day)
            messages.append(PlannedMessage(
                CHANNEL, options.channel, day, str(month), tuple(unassigned),
                {s: counts.get(s, 0) for s in SEVERITIES}, earned=totals.expected_amount,
                at_risk_amount=totals.at_risk_amount))
        elif unassigned:
            notes.append(f"{len(unassigned)} at-risk patient(s) have no active assigned staff "
                         "member and REMINDER_CHANNEL is not set: nobody is told about them")
        return ReminderPlan(day, str(month), tuple(messages), notes=tuple(notes))

    def _short_of_readings(self, month: Month, day: date, active: set[str]
                           ) -> dict[str, list[ShortOfReadings]]:
        """Each active staff member's assigned patients whose current device period still
        needs reading days for a code it can reach on `day` (service.devices
        .short_of_readings), by clinic id."""
        found: dict[str, list[ShortOfReadings]] = {}
        for row in self.months.with_risk(month, day):
            summary = row.summary
            verdict = short_of_readings(summary, day)
            owner = summary.assigned_to
            if verdict is None or verdict.aim is None or verdict.by is None \
                    or not owner or owner not in active:
                continue
            found.setdefault(owner, []).append(
                ShortOfReadings(summary.label, verdict.needed, verdict.by, verdict.aim))
        return {staff: sorted(rows) for staff, rows in found.items()}

    def _active_staff(self) -> set[str]:
        with self.ctx.db.read() as conn:
            return claims.active_staff_ids(conn)

    def preview(self, day: date | None = None,
                options: ReminderOptions | None = None) -> ReminderRun:
        """The plan with each message's claim state today (dry run: nothing is written)."""
        plan = self.plan(day, options)
        if plan.day > self.today():
            plan = replace(plan, notes=(*plan.notes, (
                f"{plan.day} is in the future: this preview counts the time logged and the "
                f"device reading days measured by today ({self.today()}) and the days left "
                f"from {plan.day}, as if nothing more were logged or measured (device "
                f"periods as they will stand on {plan.day}); that day's run uses that day's "
                "figures")))
        states = {(c.kind, c.recipient): c for c in self._claims(plan.day)}
        outcomes = []
        for message in plan.messages:
            claim = states.get((message.kind, message.recipient))
            status = "already_sent" if claim and claim.state == SENT else "planned"
            outcomes.append(Outcome(message.kind, message.recipient, status,
                                    len(message.patients), claim.claim_id if claim else None,
                                    claim.attempts if claim else 0,
                                    claim.slack_ts if claim else None))
        return ReminderRun(plan, tuple(outcomes), dry_run=True)

    def _claims(self, day: date) -> list[ClaimRow]:
        with self.ctx.db.read() as conn:
            return claims.of_day(conn, day)

    # ----- the job --------------------------------------------------------------------------

    def run(self, sender: ReminderSender, day: date | None = None,
            options: ReminderOptions | None = None, *, actor: str = "reminders") -> ReminderRun:
        """Plan `day` and deliver each message at most once (safe to call any number of
        times, from any number of processes). A future day is refused: its plan would be
        today's figures, and that day's own run would then find it "already sent"."""
        options = options or ReminderOptions()
        if day is not None and day > self.today():
            raise BadInput(f"Cannot send the reminders of {day}: it is in the future (today is "
                           f"{self.today()} in the clinic's time zone). They are sent on the "
                           "day, with that day's figures; --dry-run previews them now.")
        plan = self.plan(day, options)
        outcomes = tuple(self._deliver(message, sender, options, actor)
                         for message in plan.messages)
        if plan.skipped is None and all(o.status in (SENT, "confirmed", "already_sent", "gave_up")
                                        for o in outcomes):
            self._mark_day_done(plan.day, actor, len(outcomes))
        return ReminderRun(plan, outcomes)

    def due(self, options: ReminderOptions | None = None) -> date | None:
        """Today's clinic date when reminders are due and not all delivered, else None.

        Due means: on or after the start day, at or after the send time (clinic clock), and
        today's plan has not been worked through to the end, or a claim is not sent yet.
        """
        options = options or ReminderOptions()
        local = self.ctx.now().astimezone(self.ctx.policy.zone)
        day = local.date()
        if day.day < _start_day(day, options) or local.time() < options.send_time:
            return None
        claims = self._claims(day)
        done = any(c.kind == RUN and c.state == SENT for c in claims)
        unsent = [c for c in claims if c.kind != RUN and c.state != SENT
                  and c.attempts < options.max_attempts]
        return day if not done or unsent else None

    def run_due(self, sender: ReminderSender, options: ReminderOptions | None = None, *,
                actor: str = "scheduler") -> ReminderRun | None:
        """The scheduled job and its catch-up: run today's reminders if they are due."""
        day = self.due(options)
        if day is None:
            return None
        run = self.run(sender, day, options, actor=actor)
        for outcome in run.outcomes:
            log.info("reminder %s %s: %s (%d patients)%s", outcome.kind, outcome.recipient,
                     outcome.status, outcome.patients,
                     f" - {outcome.error}" if outcome.error else "")
        return run

    # ----- one message: claim, (confirm | send), mark ---------------------------------------

    def _deliver(self, message: PlannedMessage, sender: ReminderSender,
                 options: ReminderOptions, actor: str) -> Outcome:
        base = Outcome(message.kind, message.recipient, "", len(message.patients))
        claim, existing = self._claim(message, options, actor)
        if claim is None:
            assert existing is not None
            status = {SENT: "already_sent", CLAIMED: "in_flight"}.get(existing.state, "gave_up")
            return replace(base, status=status, claim_id=existing.claim_id,
                           attempts=existing.attempts, slack_ts=existing.slack_ts)
        base = replace(base, claim_id=claim.claim_id, attempts=claim.attempts)
        if claim.resumed:
            try:
                found = sender.find_delivered(message, claim.claim_id, claim.first_claimed_at)
            except Exception as exc:  # noqa: BLE001 - unsure whether it went out: do not resend
                error = f"history check failed: {_reason(exc)}"
                self._fail(claim, actor, error)
                return replace(base, status=FAILED, error=error)
            if found is not None:
                self._mark_sent(claim, found, actor, confirmed=True)
                return replace(base, status="confirmed", slack_ts=found.ts)
        try:
            delivery = sender.deliver(message, claim.claim_id)
        except Exception as exc:  # noqa: BLE001 - any failure: keep the claim for a retry
            error = _reason(exc)
            self._fail(claim, actor, error)
            return replace(base, status=FAILED, error=error)
        self._mark_sent(claim, delivery, actor, confirmed=False)
        return replace(base, status=SENT, slack_ts=delivery.ts)

    def _claim(self, message: PlannedMessage, options: ReminderOptions,
               actor: str) -> tuple[_Claim | None, ClaimRow | None]:
        """Take (recipient, day) for this process, or say who has it.

        A new row is inserted; an existing one is taken over only when `failed` (attempts
        left) or `claimed` longer ago than the lease. Rows are locked FOR UPDATE (PostgreSQL;
        SQLite writers are serialised by BEGIN IMMEDIATE), and two inserts at once meet the
        unique (recipient, day) constraint: the loser simply does not send.
        """
        now = self.ctx.now()
        try:
            with self.ctx.db.write() as conn:
                row = claims.claim_for(conn, message.recipient, message.day)
                if row is None:
                    row = claims.add(
                        conn, claim_id=str(uuid.uuid4()), recipient=message.recipient,
                        kind=message.kind, day=message.day, state=CLAIMED, attempts=1,
                        patients=len(message.patients), first_claimed_at=now, claimed_at=now,
                        claimed_by=actor)
                    _audit(conn, now, actor, "reminder.claimed", row)
                    return _held(row, resumed=False), None
                if not _can_take_over(row, now, options):
                    return None, row
                before = _snapshot(row)
                row = claims.take_over(conn, row.id, now=now, actor=actor,
                                       patients=len(message.patients))
                _audit(conn, now, actor, "reminder.taken_over", row, before)
                return _held(row, resumed=True), None
        except StoreConflict:
            with self.ctx.db.read() as conn:
                existing = claims.claim_for(conn, message.recipient, message.day, lock=False)
            assert existing is not None, "a conflicting claim must exist"
            return None, existing

    def _mark_sent(self, claim: _Claim, delivery: Delivery, actor: str, *,
                   confirmed: bool) -> None:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = claims.locked(conn, claim.pk)
            assert row is not None
            before = _snapshot(row)
            row = claims.mark_sent(conn, claim.pk, now=now, channel=delivery.channel[:32],
                                   ts=delivery.ts[:32])
            action = "reminder.confirmed_from_history" if confirmed else "reminder.sent"
            _audit(conn, now, actor, action, row, before)

    def _fail(self, claim: _Claim, actor: str, error: str) -> None:
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = claims.locked(conn, claim.pk)
            assert row is not None
            if row.state == SENT:  # a slower twin confirmed it meanwhile: keep that
                return
            before = _snapshot(row)
            row = claims.mark_failed(conn, claim.pk, error[:300])
            _audit(conn, now, actor, "reminder.failed", row, before)
        log.warning("reminder to %s failed (attempt %d): %s", row.recipient, claim.attempts,
                    error)

    def _mark_day_done(self, day: date, actor: str, messages: int) -> None:
        """Record that the day's plan was worked through, so the catch-up job stays quiet."""
        now = self.ctx.now()
        try:
            with self.ctx.db.write() as conn:
                row = claims.claim_for(conn, RUN_RECIPIENT, day)
                if row is not None and row.state == SENT:
                    return
                if row is None:
                    row = claims.add(
                        conn, claim_id=str(uuid.uuid4()), recipient=RUN_RECIPIENT, kind=RUN,
                        day=day, state=SENT, attempts=1, patients=messages,
                        first_claimed_at=now, claimed_at=now, claimed_by=actor, sent_at=now)
                else:
                    row = claims.mark_done(conn, row.id, now)
                _audit(conn, now, actor, "reminder.day_done", row)
        except StoreConflict:
            pass  # a twin recorded it at the same moment


def _start_day(day: date, options: ReminderOptions) -> int:
    """REMINDER_START_DAY, at the latest the month's last day (31 means the last day)."""
    return min(options.start_day, Month.of_day(day).days)


def _can_take_over(row: ClaimRow, now: datetime, options: ReminderOptions) -> bool:
    if row.state == SENT or row.attempts >= options.max_attempts:
        return False
    if row.state == CLAIMED:
        return row.claimed_at <= now - options.lease  # its process is presumed dead
    return True  # failed: retry


def _held(row: ClaimRow, *, resumed: bool) -> _Claim:
    return _Claim(row.id, row.claim_id, row.attempts, row.first_claimed_at, resumed)


def _snapshot(row: ClaimRow) -> dict[str, Any]:
    """What the audit trail keeps of a claim: no patient is named."""
    return {"recipient": row.recipient, "kind": row.kind, "day": row.day, "state": row.state,
            "attempts": row.attempts, "patients": row.patients, "claimed_by": row.claimed_by,
            "slack_ts": row.slack_ts, "last_error": row.last_error}


def _audit(conn: Conn, at: datetime, actor: str, action: str, row: ClaimRow,
           before: dict[str, Any] | None = None) -> None:
    audit.record(conn, at=at, actor=actor, action=action, entity="reminder_claim",
                 entity_id=row.claim_id, before=before, after=_snapshot(row))


def _reason(exc: BaseException) -> str:
    """A short, PHI-free reason for the claim row and the log."""
    first = (str(exc).splitlines() or [""])[0]
    text = first if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {first}"
    return text[:300]
