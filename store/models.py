"""The tables. Entries are append-only: a correction voids (who, when, why), never deletes."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime


def _utc(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    slack_user_id: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    npi: str | None = Field(default=None, max_length=10)
    twilio_client: str | None = Field(default=None, max_length=120, unique=True)
    is_admin: bool = False
    active: bool = True
    created_at: datetime = _utc(nullable=False)
    # voice access (issue 15, docs/security.md): a salted scrypt hash of the keypad PIN
    # (service/pins.py), the end of a wrong-PIN lock, and when the wrong-PIN count last
    # restarted (an unlock or a new PIN: wrong PINs before it no longer count towards a lock)
    voice_pin_hash: str | None = Field(default=None, max_length=200)
    voice_locked_until: datetime | None = _utc(nullable=True)
    voice_cleared_at: datetime | None = _utc(nullable=True)
    # offboarding (issue 24, docs/people.md): the instant from which the member is inactive;
    # no call is routed to them or credited to them from then on. Set with `active` False
    # (`staff offboard`, `staff update --inactive`), cleared by `--active`.
    inactive_from: datetime | None = _utc(nullable=True)
    # dashboard sign-in (issue 24, migration 0018): lower case, how an OpenID Connect
    # provider that identifies people by email (Entra, Google Workspace) finds the member
    email: str | None = Field(default=None, max_length=254, unique=True, index=True)


class StaffPhone(SQLModel, table=True):
    """A staff member's own phone or the clinic Twilio number assigned to them."""

    __tablename__ = "staff_phones"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    e164: str = Field(max_length=20, unique=True)
    kind: str = Field(default="phone", max_length=16)  # phone | twilio_number


class VoicePinAttempt(SQLModel, table=True):
    """One wrong voice PIN (never its digits): who it was tried for, on which call, when.
    Counted per staff member (the lock), per calling number (through the call's `calls`
    row), per call and clinic-wide (the hourly limit).

    `pending`: reserved under the PIN-check lock and not yet compared (issue 27): counted
    against every limit as if wrong, so parallel calls cannot all pass the count before any
    is written; the comparison then deletes it (right) or keeps it as wrong."""

    __tablename__ = "voice_pin_attempts"
    __table_args__ = (
        Index("ix_voice_pin_attempts_at", "at"),
        Index("ix_voice_pin_attempts_staff_at", "staff_id", "at"),
        Index("ix_voice_pin_attempts_call", "call_sid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id")
    call_sid: str = Field(max_length=64)
    at: datetime = _utc(nullable=False)
    pending: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})


class Patient(SQLModel, table=True):
    __tablename__ = "patients"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: str = Field(max_length=64)
    clinic_key: str = Field(max_length=64, unique=True)  # upper-cased: ids are case-insensitive
    initials: str | None = Field(default=None, max_length=8)
    consent_on: date | None = None
    conditions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    provider_id: int | None = Field(default=None, foreign_key="staff.id")
    assigned_staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    enrolled_on: date | None = None
    ended_on: date | None = None
    created_at: datetime = _utc(nullable=False)
    # the order behind the monitoring, as an auditor asks for it (migration 0012): who
    # ordered it (a physician or QHP), when, and the last established-patient visit. A staff
    # id without a database foreign key: SQLite cannot add one to a table others reference
    # while they hold rows (the service checks the staff member; staff are never deleted)
    ordering_provider_id: int | None = None
    order_on: date | None = None
    last_visit_on: date | None = None


class EnrolmentEpisode(SQLModel, table=True):
    """One stretch of a patient's enrolment (issue 26 #10, migration 0013): first and last
    day in the programme, both included; only the first episode may lack a start (the
    patient's window then starts when they were added) and only the latest may be open.
    Episodes never overlap; a returning patient gets a new one (`patient enrol`) after the
    last ended. `patients.enrolled_on`/`ended_on` repeat the latest episode's dates, written
    in the same transaction, for lists and lookups. Every write is audited with the patient."""

    __tablename__ = "enrolment_episodes"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id", index=True)
    started_on: date | None = None
    ended_on: date | None = None
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=120)  # the audit trail's actor


class PatientPhone(SQLModel, table=True):
    """A patient's or caregiver's number, unique across all patients so a call maps to one."""

    __tablename__ = "patient_phones"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id", index=True)
    e164: str = Field(max_length=20, unique=True)
    kind: str = Field(default="patient", max_length=16)  # patient | caregiver


class TimeEntry(SQLModel, table=True):
    """One stretch of treatment-management time; ended_at is fixed at write (entries never
    change), which keeps the overlap check a plain range query."""

    __tablename__ = "time_entries"
    __table_args__ = (
        # covers the month scan: every column it reads, so no table lookups (migration 0007)
        Index("ix_time_entries_patient_month", "patient_id", "started_at", "ended_at",
              "voided_at", "staff_role", "live", "clock_timed", "duration_seconds", "staff_id",
              "overlaps_entry_id"),
        Index("ix_time_entries_staff_started", "staff_id", "started_at"),
        Index("ix_time_entries_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id")
    staff_id: int = Field(foreign_key="staff.id")
    started_at: datetime = _utc(nullable=False)
    ended_at: datetime = _utc(nullable=False)
    duration_seconds: int
    activity: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=2000)
    source: str = Field(max_length=16)  # cli | slack | twilio | web | voice
    live: bool = False
    # start and end actually given (a timer, a call, a log with a time), not "ends now":
    # only clock-timed entries are merged where they overlap (docs/billing-rules.md)
    clock_timed: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    staff_role: str = Field(max_length=32)  # the role when written: later changes never rewrite
    external_ref: str | None = Field(default=None, max_length=64, unique=True)
    overlaps_entry_id: int | None = Field(default=None)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=120)
    voided_at: datetime | None = _utc(nullable=True)
    voided_by: str | None = Field(default=None, max_length=120)
    void_reason: str | None = Field(default=None, max_length=500)
    amendment_reason: str | None = Field(default=None, max_length=500)  # logged after close
    void_amendment_reason: str | None = Field(default=None, max_length=500)  # voided after


class AuditEvent(SQLModel, table=True):
    """Every write, with who did it and the record before and after (phones masked), chained:
    each carries the hash of the one before it (store/audit_chain.py, migration 0011)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),
                      # two records linked to one would be a fork: refused (store/audit.py)
                      Index("uq_audit_events_prev_hash", "prev_hash", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(nullable=False)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    prev_hash: str | None = Field(default=None, max_length=64)  # None: the first record
    hash: str = Field(max_length=64)  # SHA-256 (hex) of the record's canonical JSON

class MonthCloseEvent(SQLModel, table=True):
    """One close or reopen of a month, every one kept: the month is closed while its latest
    event is a close, and "billed at close" is what its billed close recorded: the close
    undone by the newest reopen marked billed, else the newest close."""

    __tablename__ = "month_close_events"
    __table_args__ = (Index("ix_month_close_events_month", "month", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)  # YYYY-MM, clinic calendar
    action: str = Field(max_length=8)  # close | reopen
    at: datetime = _utc(nullable=False)
    by: str = Field(max_length=120)  # a staff member's Slack id, else the operator's text
    # the staff member's name at that moment (None: `by` is an operator's text), shown
    # "Name (id)" outside Slack (service.closes.signed)
    by_name: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=500)  # why it was reopened
    # a close's per-patient record: at_close (made by the close), pending (a close from
    # before records existed, awaiting its rebuild) or reconstructed (rebuilt later)
    record: str | None = Field(default=None, max_length=16)
    recorded_at: datetime | None = _utc(nullable=True)  # when the record's figures were read
    # a close: the audit chain's head hash once the close's own audit record was added
    audit_head: str | None = Field(default=None, max_length=64)
    # a reopen: whether the close it undid had been billed (claims sent); later closes are
    # compared with a billed close (store.month_totals._billed_close). None: said before
    # reopens asked (migration 0014), read as not billed
    billed: bool | None = Field(default=None)


class MonthCloseLine(SQLModel, table=True):
    """What one patient's month supported when it was closed (codes and units)."""

    __tablename__ = "month_close_lines"
    __table_args__ = (
        UniqueConstraint("event_id", "patient_id", name="uq_month_close_lines_event_patient"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="month_close_events.id")
    patient_id: int = Field(foreign_key="patients.id")
    codes: list[list[Any]] = Field(default_factory=list,
                                   sa_column=Column(JSON, nullable=False))  # [[code, units]]
    total_seconds: int
    live_interactions: int
    expected_cents: int
    # the device codes dated in the month at the close (issue 28, migration 0019):
    # [[code, units]]; None: closed before device codes were counted
    device_codes: list[list[Any]] | None = Field(default=None,
                                                 sa_column=Column(JSON, nullable=True))


class ReminderClaim(SQLModel, table=True):
    """One reminder message for (recipient, day), claimed here BEFORE it is sent.

    The unique (recipient, day) row is what makes a reminder exactly-once: a second run, a
    restart or a second replica finds it and sends nothing more. `claim_id` also travels in the
    Slack message's metadata, so a claim whose process died after Slack accepted the message
    can be confirmed from the conversation's history instead of being sent twice.
    """

    __tablename__ = "reminder_claims"
    __table_args__ = (
        UniqueConstraint("recipient", "day", name="uq_reminder_claims_recipient_day"),
        Index("ix_reminder_claims_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=36, unique=True)
    recipient: str = Field(max_length=80)  # Slack user id (dm), channel (channel), "*run*"
    kind: str = Field(max_length=16)  # dm | channel | run
    day: date  # the reminder's date in the clinic zone
    state: str = Field(max_length=16)  # claimed | sent | failed
    attempts: int = 1
    patients: int = 0
    first_claimed_at: datetime = _utc(nullable=False)
    claimed_at: datetime = _utc(nullable=False)  # start of the current lease
    claimed_by: str = Field(max_length=120)
    sent_at: datetime | None = _utc(nullable=True)
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=300)


class SlackContext(SQLModel, table=True):
    """The patient `/rpm use` set for a channel, or for a user in their DMs (scope "user")."""

    __tablename__ = "slack_contexts"
    __table_args__ = (UniqueConstraint("scope", "scope_id", name="uq_slack_contexts_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)  # channel | user
    scope_id: str = Field(max_length=32)  # Slack channel id or user id
    patient_id: int = Field(foreign_key="patients.id")
    set_by: str = Field(max_length=32)
    set_at: datetime = _utc(nullable=False)


class RunningTimer(SQLModel, table=True):
    """A staff member's running `/rpm start` timer: one per person, stored so a restart
    loses nothing; `stop` turns it into an entry that started when the timer did."""

    __tablename__ = "running_timers"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", unique=True)
    patient_id: int = Field(foreign_key="patients.id")
    activity: str = Field(max_length=32)
    started_at: datetime = _utc(nullable=False)


class Call(SQLModel, table=True):
    """One Twilio call leg per CallSid, counted or not: attempts, voicemails and unmatched
    calls are kept so "we tried 3 times" and "nothing was lost" are provable."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_state", "state"),
        Index("ix_calls_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(max_length=64, unique=True)
    parent_call_sid: str | None = Field(default=None, max_length=64, index=True)
    account_sid: str | None = Field(default=None, max_length=64)
    direction: str | None = Field(default=None, max_length=32)
    from_number: str | None = Field(default=None, max_length=140)  # E.164 or client:NAME
    to_number: str | None = Field(default=None, max_length=140)
    status: str = Field(max_length=32)
    answered_by: str | None = Field(default=None, max_length=32)
    duration_seconds: int | None = None
    sequence_number: int = -1  # the highest SequenceNumber applied
    event_at: datetime | None = _utc(nullable=True)  # Twilio's Timestamp of that event
    started_at: datetime = _utc(nullable=False)  # first seen
    ended_at: datetime | None = _utc(nullable=True)
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    matched_kind: str | None = Field(default=None, max_length=16)  # patient | caregiver
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    bridged: bool = False  # a <Dial> parent: the conversation is on the child leg
    screened: str | None = Field(default=None, max_length=16)  # pending|accepted|refused
    state: str = Field(default="in_progress", max_length=16)
    state_reason: str | None = Field(default=None, max_length=200)
    confirmed_by: str | None = Field(default=None, max_length=120)
    after_close: bool = False
    entry_id: int | None = Field(default=None, foreign_key="time_entries.id")
    note: str | None = Field(default=None, max_length=2000)
    # webhook | reconcile | click | incoming | menu (a staff voice-menu call, state `menu`)
    source: str = Field(default="webhook", max_length=16)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class Contact(SQLModel, table=True):
    """A non-qualifying contact (an inbound SMS): kept for the record, never a live
    interaction and never minutes."""

    __tablename__ = "contacts"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="sms", max_length=16)
    external_ref: str = Field(max_length=64, unique=True)  # MessageSid
    from_number: str | None = Field(default=None, max_length=140)
    to_number: str | None = Field(default=None, max_length=140)
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    matched_kind: str | None = Field(default=None, max_length=16)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")
    received_at: datetime = _utc(nullable=False)



class VoiceMenuState(SQLModel, table=True):
    """One staff voice-menu call's state between turns (issue 15), keyed by CallSid.

    Twilio's action URLs carry only the turn number; everything else the next step needs
    lives here, never PIN digits. `reply` is the answer given to `turn`, so a retried turn
    is answered the same and changes nothing. Sessions expire (`expires_at`)."""

    __tablename__ = "voice_sessions"
    __table_args__ = (Index("ix_voice_sessions_expires_at", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id")
    turn: int = 0  # the last turn answered
    step: str = Field(max_length=16)  # what the caller is being asked now
    tries: int = 0  # prompts played at this step without an answer
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reply: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _utc(nullable=False)
    expires_at: datetime = _utc(nullable=False)

class Device(SQLModel, table=True):
    """A monitoring device lent to a patient (issue 28): its serial, what it is, and the days
    it is the patient's (from `started_on`, to `ended_on` included; None: still). A serial
    may be lent again after an end; its periods never overlap (the service checks)."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_serial_key", "serial_key"),)

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(max_length=64)
    serial_key: str = Field(max_length=64)  # upper-cased: serials are case-insensitive
    patient_id: int = Field(foreign_key="patients.id", index=True)
    kind: str = Field(max_length=16)  # bp_cuff | scale | glucometer | oximeter | other
    started_on: date
    ended_on: date | None = None
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=120)


class DeviceReading(SQLModel, table=True):
    """One reading a device measured, as its vendor sent it (issue 28). `values` are PHI:
    stored, never logged, never in Slack or metrics (only days are counted). Stored once:
    `dedupe_key` is the vendor's reading id when given, else serial (or patient) + instant +
    kind. `patient_id` None: unmatched (no device registered for the serial on that day),
    kept for an admin to attach (`device attach`), never dropped."""

    __tablename__ = "device_readings"
    __table_args__ = (
        Index("ix_device_readings_patient_measured", "patient_id", "measured_at"),
        Index("ix_device_readings_serial_key", "serial_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=300, unique=True)
    reading_id: str | None = Field(default=None, max_length=128)  # the vendor's
    serial: str | None = Field(default=None, max_length=64)
    serial_key: str | None = Field(default=None, max_length=64)
    device_id: int | None = Field(default=None, foreign_key="devices.id")
    patient_id: int | None = Field(default=None, foreign_key="patients.id")
    measured_at: datetime = _utc(nullable=False)
    kind: str = Field(max_length=16)  # blood_pressure | weight | glucose | spo2 | other
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16)  # webhook | fhir | csv
    received_at: datetime = _utc(nullable=False)
    attached_by: str | None = Field(default=None, max_length=120)  # an admin's attach


# The primary keys are INTEGER columns: PostgreSQL holds up to 2^31 - 1 (SQLite 2^63 - 1),
# so ids typed by people are bounded by the smaller, for the same answer on both.
MAX_ROW_ID = 2**31 - 1


def text_limit(attribute: Any) -> int:
    """The length of the text column behind a model attribute (`text_limit(Staff.name)` is
    200): the one source of every bound on stored text."""
    length = attribute.property.columns[0].type.length
    assert isinstance(length, int), f"{attribute} is not a bounded text column"
    return length


class AuditorGrant(SQLModel, table=True):
    """An outside auditor's read-only dashboard scope (issue 24, migration 0018): the months
    and patients (None: every patient of those months) they may see until `expires_at`,
    opened once through a sign-in link whose secret's SHA-256 is `link_hash`."""

    __tablename__ = "auditor_grants"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    first_month: str = Field(max_length=7)  # YYYY-MM, inclusive
    last_month: str = Field(max_length=7)
    patients: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    expires_at: datetime = _utc(nullable=False)
    link_hash: str = Field(max_length=64, unique=True)
    link_used_at: datetime | None = _utc(nullable=True)  # single use: set once
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=120)
    revoked_at: datetime | None = _utc(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=120)


class DashboardKey(SQLModel, table=True):
    """The random key that signs auditor links and session cookies, made on first use."""

    __tablename__ = "dashboard_keys"

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=32, unique=True)
    secret: str = Field(max_length=128)
    created_at: datetime = _utc(nullable=False)


class DashboardSignIn(SQLModel, table=True):
    """A signed-in dashboard session, server-side (migration 0020): the cookie carries its id
    (its SHA-256 is kept here), so a session ended here (sign-out, the member offboarded, the
    auditor grant revoked) is refused whatever copy of the cookie comes back."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_subject", "kind", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    sid_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)  # staff | auditor
    subject: str = Field(max_length=120)  # a Slack id, or an auditor grant's id
    started_at: datetime = _utc(nullable=False)
    ended_at: datetime | None = _utc(nullable=True)
    ended_by: str | None = Field(default=None, max_length=120)
    ended_why: str | None = Field(default=None, max_length=40)


class Notice(SQLModel, table=True):
    """One Slack DM a committed call write calls for (a call to confirm, or one that counted),
    queued in that write's own transaction: the call and its notice are stored together or
    not at all, so a process dying after the commit never loses the DM (issue 25).

    The scheduler leader delivers it (service/notices.py): a claim before sending, the
    message ts after; `claim_id` travels in the message's metadata, so a claim whose process
    died after Slack accepted the message is confirmed from the conversation's history
    instead of being sent twice."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_state", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=24)  # ask_if_live | tell_counted
    recipient: str = Field(max_length=32)  # the staff member's Slack user id
    call_id: int = Field(foreign_key="calls.id")  # the call it is about
    state: str = Field(max_length=16)  # pending | claimed | sent | failed | gave_up
    attempts: int = 0
    created_at: datetime = _utc(nullable=False)
    first_claimed_at: datetime | None = _utc(nullable=True)
    claimed_at: datetime | None = _utc(nullable=True)  # start of the current lease
    claimed_by: str | None = Field(default=None, max_length=120)
    sent_at: datetime | None = _utc(nullable=True)
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=300)
