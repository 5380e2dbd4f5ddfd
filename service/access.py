"""Who may see what on the dashboard and in the CLI's reports, and the access log.

A `Viewer` is who asks: an admin (a staff admin, the DASHBOARD_TOKEN, a loopback operator, the
CLI's operator), other staff (their assigned patients only) or an auditor grant (its months
and patients only). The rules below are pure; `AccessService.record` applies them and writes
the view into the hash-chained audit trail (store/access.py) in one write transaction,
before anything of the page is read: when the record cannot be written the page is not
shown (fail closed). A signed-in member's or auditor's ask outside their scope is refused
and recorded as refused (the access log's `refused` records); an admin's unknown id, and an
ask from a session that is over (an inactive member, a revoked or expired grant), record
nothing. Requests with no session never reach here (web/routes.py's guard).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from billing.months import Month, start_of_day_utc
from service import audit
from service.context import ServiceContext
from service.errors import NotAllowed, NotFound
from service.lookups import find_staff, patient_key, require_patient
from service.sessions import STAFF as STAFF_SESSION
from service.sessions import DashboardLogin, require_live_in, start_in
from store import access as access_rows
from store import auditors as grant_rows
from store import staff as staff_rows
from store.db import Conn

# What a view shows (the access log's `what`).
PATIENT_PAGE = "patient_page"
PACKET = "packet"
REPORT = "report"
EXPORT = "export"
WHATS = (PATIENT_PAGE, PACKET, REPORT, EXPORT)

REFUSED = "You may not see this page."  # no PHI: says nothing of whether the patient exists
SLACK_USER_CLAIM = "https://slack.com/user_id"  # what "Sign in with Slack" ID tokens carry
SIGN_IN_ENTITY = "dashboard_sign_in"
NOT_STAFF = ("You are signed in, but not as active staff of this clinic: ask an admin to add "
             "you (`rpm-logger staff add`, with --email for an email sign-in).")
DEACTIVATED = ("You are signed in, but this staff account has been deactivated in rpm-logger: "
               "the dashboard is no longer open to it. If that is a mistake, ask a clinic "
               "admin.")
NOT_A_LINK = "This is not a valid auditor sign-in link. Ask the clinic for a new one."
REVOKED = "This auditor access was revoked by the clinic."
EXPIRED = "This auditor access has expired. Ask the clinic for a new one."


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
    label: str | None = None  # who is signed in, as the page header says it (no PHI)

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


def default_month(viewer: Viewer, current: Month) -> Month:
    """The month a page shows when none is asked for: the current one, or for an auditor
    the nearest month of the grant."""
    if viewer.role is not Role.AUDITOR or viewer.months is None:
        return current
    first, last = viewer.months
    return min(max(current, first), last)


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


VIEWED = "viewed"
REFUSED_OUTCOME = "refused"


@dataclass(frozen=True)
class AccessView:
    """One line of the access log: a view, or an ask refused by the viewer's scope."""

    id: int
    at: datetime
    by: str
    what: str
    patient: str | None  # None: month-wide, or (refused) an id that named no patient
    month: str | None
    via: str
    outcome: str = VIEWED  # VIEWED | REFUSED_OUTCOME
    unknown_patient: bool = False  # refused: the id named no patient (it is not kept)

    @property
    def refused(self) -> bool:
        return self.outcome == REFUSED_OUTCOME

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "by": self.by, "what": self.what,
                "patient": self.patient, "month": self.month, "via": self.via,
                "outcome": self.outcome, "unknown_patient": self.unknown_patient}


def open_grant(conn: Conn, grant_id: int, now: datetime) -> Any:
    """The auditor grant's row while it is open (its link used, not revoked, not expired),
    else NotAllowed saying which: read per request, so a revoke ends a session at once."""
    row = grant_rows.by_id(conn, grant_id)
    if row is None or row.link_used_at is None:
        raise NotAllowed(NOT_A_LINK)
    if row.revoked_at is not None:
        raise NotAllowed(REVOKED)
    if now >= row.expires_at:
        raise NotAllowed(EXPIRED)
    return row


def _view(row: access_rows.AccessRow) -> AccessView:
    after = row.after or {}
    unknown = row.patient == access_rows.UNKNOWN_PATIENT
    return AccessView(row.id, row.at, row.actor, str(after.get("what", "")),
                      None if unknown or row.patient == access_rows.MONTH_WIDE
                      else row.patient, after.get("month"), str(after.get("via", "")),
                      REFUSED_OUTCOME if row.action == access_rows.REFUSED else VIEWED,
                      unknown)


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
        """`record` for several patients of one month at once (`audit packet --all`).

        A signed-in member's or an auditor's ask outside their scope is refused
        (NotAllowed, nothing of the page read) and recorded as refused, in the same
        transaction, committed before the refusal is answered: who, when, what, the patient
        it named (its clinic id; "?" for an id that named no patient, never the id as
        typed). An ask refused before the scope is looked at (an inactive member, a grant
        revoked or expired: their session is over) records nothing."""
        if what not in WHATS:
            raise ValueError(what)
        with self.ctx.db.write() as conn:
            self._still_allowed(conn, viewer)
            asked = self._asked(conn, viewer, month, patient_refs)
            denied = [entity_id for entity_id, allowed in asked if not allowed]
            if not denied:
                for entity_id, _ in asked:
                    self._append(conn, viewer, what, month, entity_id)
                return [None if entity_id == access_rows.MONTH_WIDE else entity_id
                        for entity_id, _ in asked]
            for entity_id in denied:
                self._append(conn, viewer, what, month, entity_id, access_rows.REFUSED)
        raise NotAllowed(REFUSED)  # after the refusal's record is committed

    def _asked(self, conn: Conn, viewer: Viewer, month: Month,
               patient_refs: list[str] | None) -> list[tuple[str, bool]]:
        """What the viewer asked for (a clinic id, MONTH_WIDE or UNKNOWN_PATIENT) and
        whether their scope allows it; an admin's unknown id is NotFound (not recorded)."""
        if patient_refs is None:
            return [(access_rows.MONTH_WIDE, sees_month(viewer, month)
                     and sees_month_wide(viewer))]
        return [self._patient(conn, viewer, ref, month) for ref in patient_refs]

    def sign_in(self, claims: Mapping[str, Any]) -> DashboardLogin:
        """A staff member's session from an OpenID Connect ID token's claims (already
        verified: signature, issuer, audience, expiry, nonce): the Slack user id a "Sign in
        with Slack" token carries, else a verified email matched to `staff --email`. An
        unknown identity or an inactive member: NotAllowed, nothing written. The sign-in is
        an audit record (which provider's identity it was, never the token)."""
        slack_id = claims.get(SLACK_USER_CLAIM)
        email = claims.get("email")
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            member = None
            if isinstance(slack_id, str) and slack_id:
                member = find_staff(conn, slack_id.strip().upper())
                how = "slack user id"
            elif isinstance(email, str) and email and claims.get("email_verified") is not False:
                member = staff_rows.by_email(conn, email.strip().lower())
                how = "email"
            if member is None or not member.active:
                raise NotAllowed(NOT_STAFF if member is None else DEACTIVATED)
            slack = str(member.slack_user_id)
            login, session = start_in(conn, STAFF_SESSION, slack, now)
            audit.record(conn, at=now, actor=slack, action="sign_in", entity=SIGN_IN_ENTITY,
                         entity_id=slack, after={"by": how, "issuer": str(claims.get("iss")),
                                                 "session": session})
        return login

    def staff_viewer(self, login: DashboardLogin) -> Viewer:
        """The viewer a staff member's session stands for, read now in one transaction: an
        admin, else staff limited to their patients; unknown or inactive: NotAllowed (no
        PHI); a session ended server-side (signed out): SessionEnded."""
        with self.ctx.db.read() as conn:
            member = find_staff(conn, login.subject)
            if member is None or not member.active:
                raise NotAllowed(NOT_STAFF if member is None else DEACTIVATED)
            require_live_in(conn, login)
        slack = str(member.slack_user_id)
        return Viewer(slack, Role.ADMIN if member.is_admin else Role.STAFF, staff_id=slack,
                      label=f"{member.name} ({slack})")

    def _still_allowed(self, conn: Conn, viewer: Viewer) -> None:
        """A staff viewer is still active staff, an auditor's grant still open, read in the
        recording transaction (a deactivation or a revoke refuses the very next view)."""
        if viewer.role is Role.AUDITOR:
            open_grant(conn, viewer.grant_id or 0, self.ctx.now())
            return
        if viewer.staff_id is None or viewer.via == "cli":
            return
        member = find_staff(conn, viewer.staff_id)
        if member is None or not member.active:
            raise NotAllowed(REFUSED)
        if viewer.role is Role.ADMIN and not member.is_admin:
            raise NotAllowed(REFUSED)

    def _patient(self, conn: Conn, viewer: Viewer, ref: str,
                 month: Month) -> tuple[str, bool]:
        """The patient `ref` names (its clinic id) and whether the viewer may see them for
        the month; an id naming no patient: NotFound for an admin (told what exists),
        refused for anyone else (the same refusal as another's patient)."""
        region = self.ctx.policy.phone_region
        try:
            patient = require_patient(conn, ref, region=region)
        except NotFound:
            if viewer.is_admin:
                raise
            return access_rows.UNKNOWN_PATIENT, False  # no "did you mean" other patients
        assigned = None
        if viewer.role is Role.STAFF and patient.assigned_staff_id is not None:
            member = find_staff(conn, viewer.staff_id or "")
            assigned = viewer.staff_id if member is not None \
                and member.id == patient.assigned_staff_id else None
        return str(patient.clinic_id), sees_patient(viewer, patient.clinic_id, assigned, month)

    def _append(self, conn: Conn, viewer: Viewer, what: str, month: Month,
                entity_id: str, action: str = access_rows.ACTION) -> None:
        audit.record(conn, at=self.ctx.now(), actor=viewer.actor, action=action,
                     entity=access_rows.ENTITY, entity_id=entity_id,
                     after={"what": what, "month": str(month), "via": viewer.via})

    def log(self, *, patient_ref: str | None = None, by: str | None = None,
            since: date | None = None, refused: bool | None = None) -> list[AccessView]:
        """The access log, newest first (`rpm-logger audit access`); `refused`: True, the
        refused asks only; False, the views only; None, both."""
        with self.ctx.db.read() as conn:
            clinic_id = None
            if patient_ref is not None:
                clinic_id = str(require_patient(conn, patient_ref,
                                                region=self.ctx.policy.phone_region).clinic_id)
            start = start_of_day_utc(since, self.ctx.policy.zone) if since else None
            rows = access_rows.views(conn, patient=clinic_id, actor=by.strip() if by else None,
                                     since=start, refused=refused)
        return [_view(r) for r in rows]
