"""Auditor grants (issue 24): an outside auditor's read-only dashboard scope, opened once.

`grant` records the scope (months, optionally patients, an expiry day) and returns a one-time
sign-in link: `<grant id>.<secret>.<mac>`, the secret 32 random bytes whose SHA-256 is kept
on the grant, the mac an HMAC-SHA256 with the dashboard's key (service/sessions.py) over the
id and the secret, so a link is checked (forged, edited) before the database is asked. `redeem`
uses it once: in one write transaction it checks the grant (not revoked, not expired, link
unused), marks the link used with a conditional UPDATE (two browsers racing: one wins) and
records the use; any refusal changes nothing. Every grant, use and revoke is an audit record.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from billing.errors import quoted
from billing.months import Month, start_of_day_utc
from service import audit
from service.access import EXPIRED, NOT_A_LINK, REVOKED, Role, Viewer, open_grant
from service.context import ServiceContext
from service.errors import BadInput, NotAllowed, NotFound, parse_row_id
from service.lookups import require_patient
from service.sessions import (
    AUDITOR,
    GRANT_REVOKED,
    DashboardLogin,
    KeyRing,
    end_all_in,
    require_live_in,
    start_in,
)
from store import auditors as grant_rows

ENTITY = "auditor_grant"
_LINK = re.compile(r"([0-9]{1,10})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})")
MAX_MONTHS = 36  # a grant spans at most three years of months
MAX_PATIENTS = 500

USED = "This auditor sign-in link was already used: each link works once. Ask the clinic " \
       "for a new one."


@dataclass(frozen=True)
class GrantView:
    id: int
    name: str
    first_month: Month
    last_month: Month
    patients: tuple[str, ...] | None
    expires_at: datetime
    created_at: datetime
    created_by: str
    link_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "in use" if self.link_used_at is not None else "link not used yet"

    def last_day(self, zone: ZoneInfo) -> date:
        """The last clinic day the grant works (it ends at the midnight after it)."""
        return (self.expires_at - timedelta(seconds=1)).astimezone(zone).date()

    @property
    def months_text(self) -> str:
        if self.first_month == self.last_month:
            return str(self.first_month)
        return f"{self.first_month}..{self.last_month}"


@dataclass(frozen=True)
class IssuedGrant:
    grant: GrantView
    link_token: str  # shown once; the database keeps only its secret's SHA-256


def _view(row: Any) -> GrantView:
    return GrantView(row.id, row.name, Month.parse(row.first_month), Month.parse(row.last_month),
                     tuple(row.patients) if row.patients is not None else None,
                     row.expires_at, row.created_at, row.created_by, row.link_used_at,
                     row.revoked_at, row.revoked_by)


def parse_months(text: str) -> tuple[Month, Month]:
    """`2026-10..2026-12` (inclusive) or one month `2026-10`."""
    first_text, dots, last_text = (text or "").strip().partition("..")
    first = Month.parse(first_text.strip())
    last = Month.parse(last_text.strip()) if dots else first
    if last < first:
        raise BadInput(f"--months {quoted(text)}: the first month comes first "
                       f"({first}..{last} is backwards).")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise BadInput(f"--months {quoted(text)}: at most {MAX_MONTHS} months.")
    return first, last


def parse_patients(text: str | None) -> list[str] | None:
    if text is None:
        return None
    refs = [p.strip() for p in text.split(",") if p.strip()]
    if not refs:
        raise BadInput("--patients names no patient: give clinic ids such as P-1042,P-1045.")
    if len(refs) > MAX_PATIENTS:
        raise BadInput(f"--patients: at most {MAX_PATIENTS} patients.")
    return refs


def viewer_of(grant: GrantView) -> Viewer:
    return Viewer(f"auditor:{grant.id}", Role.AUDITOR, grant_id=grant.id,
                  months=(grant.first_month, grant.last_month),
                  patients=frozenset(p.upper() for p in grant.patients)
                  if grant.patients is not None else None,
                  label=f"{grant.name} (auditor #{grant.id}, {grant.months_text}, read-only)")


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _link_mac(key: bytes, grant_id: int, secret: str) -> str:
    return hmac.new(key, f"rpm-logger auditor link v1:{grant_id}.{secret}".encode(),
                    hashlib.sha256).hexdigest()


class AuditorService:
    def __init__(self, ctx: ServiceContext, keys: KeyRing) -> None:
        self.ctx = ctx
        self.keys = keys

    def grant(self, *, name: str, months: str, patients: str | None, expires_on: date,
              actor: str) -> IssuedGrant:
        """A new grant and its one-time link; audited."""
        clean_name = " ".join((name or "").split())
        if not clean_name:
            raise BadInput("--name says who the auditor is, e.g. \"Payer reviewer\".")
        first, last = parse_months(months)
        refs = parse_patients(patients)
        now = self.ctx.now()
        zone = self.ctx.policy.zone
        expires_at = start_of_day_utc(expires_on + timedelta(days=1), zone)
        if expires_at <= now:
            raise BadInput(f"--expires {expires_on}: that day is over; give today or later.")
        if expires_on > now.astimezone(zone).date() + timedelta(days=366):
            raise BadInput(f"--expires {expires_on}: at most a year from today.")
        key = self.keys.key()
        secret = secrets.token_urlsafe(32)
        with self.ctx.db.write() as conn:
            ids = None
            if refs is not None:
                ids = sorted({str(require_patient(conn, ref, region=self.ctx.policy.phone_region,
                                                  by_phone=False).clinic_id) for ref in refs})
            grant_id = grant_rows.add(conn, name=clean_name, first_month=str(first),
                                      last_month=str(last), patients=ids,
                                      expires_at=expires_at, link_hash=_secret_hash(secret),
                                      created_at=now, created_by=actor)
            audit.record(conn, at=now, actor=actor, action="grant", entity=ENTITY,
                         entity_id=grant_id,
                         after={"name": clean_name, "months": [str(first), str(last)],
                                "patients": ids, "expires_at": expires_at})
            row = grant_rows.by_id(conn, grant_id)
        token = f"{grant_id}.{secret}.{_link_mac(key, grant_id, secret)}"
        return IssuedGrant(_view(row), token)

    def list(self) -> list[GrantView]:
        with self.ctx.db.read() as conn:
            return [_view(row) for row in grant_rows.every(conn)]

    def revoke(self, grant_ref: str, *, actor: str) -> GrantView:
        """End the grant now: its link and its session stop working at their next use."""
        grant_id = parse_row_id((grant_ref or "").strip())
        if grant_id is None:
            raise BadInput(f"{quoted(grant_ref or '')} is not a grant id: `rpm-logger auditor "
                           "list` shows them.")
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = grant_rows.by_id(conn, grant_id)
            if row is None:
                raise NotFound(f"No auditor grant #{grant_id}: `rpm-logger auditor list` "
                               "shows them.")
            if row.revoked_at is not None:
                raise BadInput(f"Auditor grant #{grant_id} was already revoked.")
            grant_rows.revoke(conn, grant_id, now, actor)
            audit.record(conn, at=now, actor=actor, action="revoke", entity=ENTITY,
                         entity_id=grant_id, before={"revoked_at": None},
                         after={"revoked_at": now})
            end_all_in(conn, AUDITOR, str(grant_id), now=now, actor=actor, why=GRANT_REVOKED)
            return _view(grant_rows.by_id(conn, grant_id))

    def redeem(self, link_token: str) -> DashboardLogin:
        """Use a sign-in link once: the session it starts, or NotAllowed (nothing changed)."""
        found = _LINK.fullmatch((link_token or "").strip())
        if found is None:
            raise NotAllowed(NOT_A_LINK)
        grant_id, secret, mac = int(found.group(1)), found.group(2), found.group(3)
        key = self.keys.existing()  # no key yet: no link was ever made
        if key is None or not hmac.compare_digest(mac, _link_mac(key, grant_id, secret)):
            raise NotAllowed(NOT_A_LINK)
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            row = grant_rows.by_id(conn, grant_id)
            if row is None or not hmac.compare_digest(row.link_hash, _secret_hash(secret)):
                raise NotAllowed(NOT_A_LINK)
            if row.revoked_at is not None:
                raise NotAllowed(REVOKED)
            if now >= row.expires_at:
                raise NotAllowed(EXPIRED)
            if row.link_used_at is not None or not grant_rows.use_link(conn, grant_id, now):
                raise NotAllowed(USED)
            login, session = start_in(conn, AUDITOR, str(grant_id), now)
            audit.record(conn, at=now, actor=f"auditor:{grant_id}", action="sign_in",
                         entity=ENTITY, entity_id=grant_id, before={"link_used_at": None},
                         after={"link_used_at": now, "session": session})
        return login

    def viewer(self, login: DashboardLogin) -> Viewer:
        """The viewer an auditor session stands for, read now in one transaction:
        NotAllowed once the grant is revoked or expired (saying which); a session ended
        server-side: SessionEnded."""
        grant_id = parse_row_id(login.subject) if login.kind == AUDITOR else None
        if grant_id is None:
            raise NotAllowed(NOT_A_LINK)
        with self.ctx.db.read() as conn:
            grant = open_grant(conn, grant_id, self.ctx.now())
            require_live_in(conn, login)
            return viewer_of(_view(grant))
