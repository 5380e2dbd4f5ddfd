"""Admin operations typed in chat: the same patient and staff services, guarded by the
caller's admin flag (the CLI is run by an operator who already has the database)."""

from service.context import ServiceContext
from service.errors import NotAllowed
from service.patients import PatientFields, PatientService
from service.staff import StaffService, require_staff
from service.views import PatientView, StaffView


class AdminService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.patients = PatientService(ctx)
        self.staff = StaffService(ctx)

    def require_admin(self, user_id: str) -> str:
        with self.ctx.db.read_session() as session:
            staff = require_staff(session, user_id)
            if not (staff.is_admin and staff.active):
                raise NotAllowed("Only an admin may do that. Admins: "
                                 + (", ".join(self.admin_ids()) or "none yet (use the CLI)")
                                 + ".")
            return staff.slack_user_id

    def admin_ids(self) -> list[str]:
        """Who can add staff and patients, for refusals that name someone to ask."""
        return [s.slack_user_id for s in self.staff.list() if s.is_admin]

    def add_patient(self, by: str, patient_id: str, initials: str | None) -> PatientView:
        actor = self.require_admin(by)
        return self.patients.add(patient_id, PatientFields(initials=initials), actor=actor)

    def assign(self, by: str, patient_id: str, user_id: str) -> PatientView:
        actor = self.require_admin(by)
        return self.patients.update(patient_id, PatientFields(assign=user_id), actor=actor)

    def add_staff(self, by: str, user_id: str, *, name: str, role: str,
                  is_admin: bool) -> StaffView:
        actor = self.require_admin(by)
        return self.staff.add(slack_user_id=user_id, name=name, role=role, is_admin=is_admin,
                              actor=actor)

    def list_staff(self, by: str) -> list[StaffView]:
        self.require_admin(by)
        return self.staff.list()
