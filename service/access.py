"""Who may see what on the dashboard and in the CLI's reports, and the access log.

A `Viewer` is who asks: an admin (a staff admin, the DASHBOARD_TOKEN, a loopback operator, the
CLI's operator), other staff (their assigned patients only) or an auditor grant (its months
and patients only). The rules below are pure; `AccessService.record` applies them and writes
the view into the hash-chained audit trail (store/access.py) in one write transaction,
before anything of the page is read: when the record cannot be written the page is not
shown (fail closed), and a refused view records nothing and changes nothing.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from billing.months import Month, start_of_day_utc
from service import audit
from service.context import ServiceContext
from service.errors import NotAllowed, NotFound
from service.lookups import find_staff, patient_key, require_patient
from store import access as access_rows
from store.db import Conn

# What a view shows (the access log's `what`).
PATIENT_PAGE = "patient_page"
PACKET = "packet"
REPORT = "report"
EXPORT = "export"
WHATS = (PATIENT_PAGE, PACKET, REPORT, EXPORT)

REFUSED = "You may not see this page."  # no PHI: says nothing of whether the patient exists


class Role(Enum):
    ADMIN = "admin"  # everything
    STAFF = "staff"  # the month page and pages of their assigned patients
    AUDITOR = "auditor"  # read-only: the grant's months and patients


@dataclass(frozen=True)
class Viewer:
    """Who is looking: `actor` is what the access log records (a staff member's Slack id,
    `dashboard-token`, `loopback`, `auditor:ID`, `cli:USER`)."""

    actor: str
    role: Role
    via: str = "web"  # web | cli
    staff_id: str | None = None  # STAFF and staff ADMIN: the Slack id
    grant_id: int | None = None  # AUDITOR: the grant
    months: tuple[Month, Month] | None = None  # AUDITOR: first and last month, inclusive
    patients: frozenset[str] | None = None  # AUDITOR: clinic keys (upper case); None: all

    @classmethod
    def admin(cls, actor: str, *, via: str = "web") -> "Viewer":
        return cls(actor, Role.ADMIN, via)

    @classmethod
    def operator(cls, user: str) -> "Viewer":
        """The CLI's operator (`cli:USER`): the clinic's admin on the machine."""
        return cls(user, Role.ADMIN, "cli")

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def sees_month(viewer: Viewer, month: Month) -> bool:
    if viewer.role is not Role.AUDITOR:
        return True
    return viewer.months is not None and viewer.months[0] <= month <= viewer.months[1]


def sees_patient(viewer: Viewer, clinic_id: str, assigned_to: str | None,
                 month: Month) -> bool:
    """Admins: every patient; staff: those assigned to them; auditors: the grant's."""
    if viewer.role is Role.ADMIN:
        return True
    if viewer.role is Role.STAFF:
        return viewer.staff_id is not None and assigned_to == viewer.staff_id
    return sees_month(viewer, month) and (viewer.patients is None
                                          or patient_key(clinic_id) in viewer.patients)


def sees_month_wide(viewer: Viewer) -> bool:
    """A report download, an export, the self-audit: every patient of the month; admins."""
    return viewer.is_admin


def require_month_wide(viewer: Viewer) -> None:
    """The self-audit and other month-wide pages: admins only (NotAllowed, no PHI)."""
    if not sees_month_wide(viewer):
        raise NotAllowed(REFUSED)


def sees_access_log(viewer: Viewer) -> bool:
    return viewer.is_admin


@dataclass(frozen=True)
class AccessView:
    """One line of the access log."""

    id: int
    at: datetime
    by: str
    what: str
    patient: str | None
    month: str | None
    via: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "by": self.by, "what": self.what,
                "patient": self.patient, "month": self.month, "via": self.via}


def _view(row: access_rows.AccessRow) -> AccessView:
    after = row.after or {}
    return AccessView(row.id, row.at, row.actor, str(after.get("what", "")),
                      None if row.patient == access_rows.MONTH_WIDE else row.patient,
                      after.get("month"), str(after.get("via", "")))


def access_log_in(conn: Conn, clinic_id: str, *, limit: int = 50) -> tuple[AccessView, ...]:
    """The newest views of one patient (the patient page shows them to admins)."""
    return tuple(_view(r) for r in access_rows.views(conn, patient=clinic_id, limit=limit))


class AccessService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def record(self, viewer: Viewer, what: str, month: Month,
               patient_ref: str | None = None) -> str | None:
        """Check that `viewer` may see `what` (of the patient, for the month) and record the
        view, in one write transaction; returns the patient's clinic id. Refused (NotAllowed,
        NotFound for admins only): nothing recorded. The record not written: the error
        propagates and the caller shows nothing."""
        return self.record_many(viewer, what, month,
                                [patient_ref] if patient_ref is not None else None)[0]

    def record_many(self, viewer: Viewer, what: str, month: Month,
                    patient_refs: list[str] | None) -> list[str | None]:
        """`record` for several patients of one month at once (`audit packet --all`)."""
        if what not in WHATS:
            raise ValueError(what)
        with self.ctx.db.write() as conn:
            self._still_allowed(conn, viewer)
            if not sees_month(viewer, month):
                raise NotAllowed(REFUSED)
            if patient_refs is None:
                if not sees_month_wide(viewer):
                    raise NotAllowed(REFUSED)
                self._append(conn, viewer, what, month, access_rows.MONTH_WIDE)
                return [None]
            found: list[str | None] = []
            for ref in patient_refs:
                clinic_id = self._patient(conn, viewer, ref, month)
                self._append(conn, viewer, what, month, clinic_id)
                found.append(clinic_id)
            return found

    def _still_allowed(self, conn: Conn, viewer: Viewer) -> None:
        """A staff viewer is still active staff, read in the recording transaction (a session
        outlives a deactivation by at most one request: this one is refused)."""
        if viewer.staff_id is None or viewer.via == "cli":
            return
        member = find_staff(conn, viewer.staff_id)
        if member is None or not member.active:
            raise NotAllowed(REFUSED)
        if viewer.role is Role.ADMIN and not member.is_admin:
            raise NotAllowed(REFUSED)

    def _patient(self, conn: Conn, viewer: Viewer, ref: str, month: Month) -> str:
        region = self.ctx.policy.phone_region
        try:
            patient = require_patient(conn, ref, region=region)
        except NotFound:
            if viewer.is_admin:
                raise
            raise NotAllowed(REFUSED) from None  # no "did you mean" other patients' ids
        assigned = None
        if viewer.role is Role.STAFF and patient.assigned_staff_id is not None:
            member = find_staff(conn, viewer.staff_id or "")
            assigned = viewer.staff_id if member is not None \
                and member.id == patient.assigned_staff_id else None
        if not sees_patient(viewer, patient.clinic_id, assigned, month):
            raise NotAllowed(REFUSED)
        return str(patient.clinic_id)

    def _append(self, conn: Conn, viewer: Viewer, what: str, month: Month,
                entity_id: str) -> None:
        audit.record(conn, at=self.ctx.now(), actor=viewer.actor, action=access_rows.ACTION,
                     entity=access_rows.ENTITY, entity_id=entity_id,
                     after={"what": what, "month": str(month), "via": viewer.via})

    def log(self, *, patient_ref: str | None = None, by: str | None = None,
            since: date | None = None) -> list[AccessView]:
        """The access log, newest first (`rpm-logger audit access`)."""
        with self.ctx.db.read() as conn:
            clinic_id = None
            if patient_ref is not None:
                clinic_id = str(require_patient(conn, patient_ref,
                                                region=self.ctx.policy.phone_region).clinic_id)
            start = start_of_day_utc(since, self.ctx.policy.zone) if since else None
            rows = access_rows.views(conn, patient=clinic_id, actor=by.strip() if by else None,
                                     since=start)
        return [_view(r) for r in rows]
