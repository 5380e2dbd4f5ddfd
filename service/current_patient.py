"""The patient a conversation is about, set by `/rpm use`, so a log can omit the patient.

A channel's current patient belongs to the channel (everyone in it logs for that patient);
in a direct message it belongs to the user and follows them into channels that have none.
"""

from dataclasses import dataclass
from typing import Any

from service import audit, lookups
from service.context import ServiceContext
from service.patients import detail_view, require_detail
from service.views import PatientView
from store import contexts
from store.db import Conn

CHANNEL, USER = "channel", "user"


def scope_of(channel_id: str, user_id: str) -> tuple[str, str]:
    """Direct messages (channel ids starting with D) set the user's own context."""
    if not channel_id or channel_id.upper().startswith("D"):
        return USER, user_id.upper()
    return CHANNEL, channel_id.upper()


@dataclass(frozen=True)
class ContextChange:
    scope: str  # channel | user
    patient: PatientView | None  # None: cleared
    previous: PatientView | None


class CurrentPatientService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def use(self, *, channel_id: str, user_id: str, patient_ref: str | None,
            by_phone: bool = True) -> ContextChange:
        """Set (or with None clear) the context where the command was typed; active staff
        only (`by_phone=False`: chat, where the patient is named by clinic id only)."""
        scope, scope_id = scope_of(channel_id, user_id)
        with self.ctx.db.write() as conn:
            staff = lookups.require_active_staff(conn, user_id,
                                                 doing="set a conversation's patient")
            set_before = contexts.patients_of(conn, [(scope, scope_id)])
            previous = detail_view(set_before[0]) if set_before else None
            patient = (require_detail(conn, patient_ref, region=self.ctx.policy.phone_region,
                                      by_phone=by_phone)
                       if patient_ref is not None else None)
            if patient is None:
                if set_before:
                    contexts.clear(conn, scope, scope_id)
            else:
                contexts.set_patient(conn, scope, scope_id, patient_pk=patient.id,
                                     set_by=staff.slack_user_id, set_at=self.ctx.now(),
                                     replacing=bool(set_before))
            audit.record(conn, at=self.ctx.now(), actor=staff.slack_user_id,
                         action="context.use" if patient else "context.clear",
                         entity="slack_context", entity_id=f"{scope}:{scope_id}",
                         before={"patient_id": previous.patient_id} if previous else None,
                         after={"patient_id": patient.clinic_id} if patient else None)
            return ContextChange(scope, detail_view(patient) if patient else None, previous)

    def current(self, *, channel_id: str, user_id: str) -> PatientView | None:
        """The channel's patient, else the user's own (set in a DM), else None; for active
        staff only (`patient_here`)."""
        with self.ctx.db.read() as conn:
            here = patient_here(conn, channel_id=channel_id, user_id=user_id,
                                doing="read a conversation's patient")
        return detail_view(here.patient) if here.patient is not None else None


@dataclass(frozen=True)
class Here:
    """The conversation's patient (a store/patients.py detail row), or None with the caller's
    staff row (read only then)."""

    patient: Any | None
    staff: Any = None


def patient_here(conn: Conn, *, channel_id: str, user_id: str, doing: str) -> Here:
    """The channel's patient, else the user's own (set in a DM), else none, inside the
    caller's transaction; for active staff only. One statement: it finds a patient only for
    active staff, so a found row proves the actor; only when none is found is the caller
    read (a stranger or a leaver is refused there: NotStaff)."""
    scopes = [scope_of(channel_id, user_id)]
    if scopes[0][0] == CHANNEL:
        scopes.append((USER, user_id.upper()))
    found = contexts.patients_of(conn, scopes, staff_user=user_id.strip().upper())
    if found:
        return Here(found[0])
    return Here(None, lookups.require_active_staff(conn, user_id, doing=doing))
