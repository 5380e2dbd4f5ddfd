"""The patient a conversation is about, set by `/rpm use`, so a log can omit the patient.

A channel's context belongs to the channel (everyone in it logs for that patient); in a
direct message the context belongs to the user and follows them into channels that have none.
"""

from dataclasses import dataclass

from sqlmodel import Session, select

from service import audit
from service.context import ServiceContext
from service.errors import NotAllowed
from service.patients import require_patient, view_of
from service.staff import require_staff
from service.views import PatientView
from store.models import Patient, SlackContext

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


class ContextService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _row(session: Session, scope: str, scope_id: str) -> SlackContext | None:
        return session.exec(select(SlackContext).where(
            SlackContext.scope == scope, SlackContext.scope_id == scope_id)).first()

    def use(self, *, channel_id: str, user_id: str, patient_ref: str | None) -> ContextChange:
        """Set (or with None clear) the context where the command was typed; staff only."""
        scope, scope_id = scope_of(channel_id, user_id)
        with self.ctx.db.write_session() as session:
            staff = require_staff(session, user_id)
            if not staff.active:
                raise NotAllowed(f"{staff.slack_user_id} is inactive.")
            row = self._row(session, scope, scope_id)
            previous = self._patient_view(session, row)
            patient = (require_patient(session, patient_ref, region=self.ctx.policy.phone_region)
                       if patient_ref is not None else None)
            if patient is None:
                if row is not None:
                    session.delete(row)
            else:
                assert patient.id is not None
                row = row or SlackContext(scope=scope, scope_id=scope_id, patient_id=patient.id,
                                          set_by=staff.slack_user_id, set_at=self.ctx.now())
                row.patient_id, row.set_by, row.set_at = (patient.id, staff.slack_user_id,
                                                          self.ctx.now())
                session.add(row)
            session.flush()
            audit.record(session, at=self.ctx.now(), actor=staff.slack_user_id,
                         action="context.use" if patient else "context.clear",
                         entity="slack_context", entity_id=f"{scope}:{scope_id}",
                         before={"patient_id": previous.patient_id} if previous else None,
                         after={"patient_id": patient.clinic_id} if patient else None)
            return ContextChange(scope, view_of(session, patient) if patient else None, previous)

    def current(self, *, channel_id: str, user_id: str) -> PatientView | None:
        """The channel's patient, else the user's own (set in a DM), else None."""
        with self.ctx.db.read_session() as session:
            scopes = [scope_of(channel_id, user_id)]
            if scopes[0][0] == CHANNEL:
                scopes.append((USER, user_id.upper()))
            for scope, scope_id in scopes:
                view = self._patient_view(session, self._row(session, scope, scope_id))
                if view is not None:
                    return view
            return None

    @staticmethod
    def _patient_view(session: Session, row: SlackContext | None) -> PatientView | None:
        if row is None:
            return None
        patient = session.get(Patient, row.patient_id)
        return view_of(session, patient) if patient else None
