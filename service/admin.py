"""Admin operations typed in chat: the same patient and staff services, guarded by the
caller's admin flag, checked in the same transaction as the change (the CLI is run by an
operator who already has the database)."""

from service.context import ServiceContext
from service.lookups import require_admin
from service.patients import PatientFields, PatientService
from service.staff import StaffService
from service.views import PatientView, StaffView


class AdminService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.patients = PatientService(ctx)
        self.staff = StaffService(ctx)

    def add_patient(self, by: str, patient_id: str, initials: str | None) -> PatientView:
        with self.ctx.db.write() as conn:
            actor = require_admin(conn, by)
            return self.patients.add_in(conn, patient_id, PatientFields(initials=initials),
                                        actor=actor)

    def assign(self, by: str, patient_id: str, user_id: str) -> PatientView:
        with self.ctx.db.write() as conn:
            actor = require_admin(conn, by)
            return self.patients.update_in(conn, patient_id, PatientFields(assign=user_id),
                                           actor=actor)

    def add_staff(self, by: str, user_id: str, *, name: str, role: str,
                  is_admin: bool) -> StaffView:
        with self.ctx.db.write() as conn:
            actor = require_admin(conn, by)
            return self.staff.add_in(conn, slack_user_id=user_id, name=name, role=role,
                                     is_admin=is_admin, actor=actor)

    def list_staff(self, by: str) -> list[StaffView]:
        with self.ctx.db.read() as conn:
            require_admin(conn, by)
            return self.staff.list_in(conn)
