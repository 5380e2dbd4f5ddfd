"""The tables. Entries are append-only: a correction voids (who, when, why), never deletes."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
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


class StaffPhone(SQLModel, table=True):
    """A staff member's own phone or the clinic Twilio number assigned to them."""

    __tablename__ = "staff_phones"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    e164: str = Field(max_length=20, unique=True)
    kind: str = Field(default="phone", max_length=16)  # phone | twilio_number


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
        Index("ix_time_entries_patient_started", "patient_id", "started_at"),
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
    source: str = Field(max_length=16)  # cli | slack | twilio | web
    live: bool = False
    staff_role: str = Field(max_length=32)  # the role when written: later changes never rewrite
    external_ref: str | None = Field(default=None, max_length=64, unique=True)
    overlaps_entry_id: int | None = Field(default=None)
    created_at: datetime = _utc(nullable=False)
    created_by: str = Field(max_length=120)
    voided_at: datetime | None = _utc(nullable=True)
    voided_by: str | None = Field(default=None, max_length=120)
    void_reason: str | None = Field(default=None, max_length=500)


class AuditEvent(SQLModel, table=True):
    """Every write, with who did it and the record before and after (phones masked)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(nullable=False)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))



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
    source: str = Field(default="webhook", max_length=16)  # webhook | reconcile | click
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
