"""Dashboard sessions: the signing key, the signed session cookie and the server-side
session it names (issue 24; server-side since the outside try: sign-out ends a session).

The key is 32 random bytes made on first use and kept in the database (`dashboard_keys`), so
every `serve` process and the CLI (which signs auditor links) share it with nothing to
configure; a backup carries it with the rest of the database. Rotating it (delete the row)
ends every session and every unused auditor link.

A session cookie is `<payload>.<mac>`: the payload is base64url JSON `{"k": kind, "s":
subject, "i": issued, "t": last seen, "d": session id}` (Unix seconds) and the mac an
HMAC-SHA256 over it. It carries no PHI and no name: a staff member's Slack id or an auditor
grant's id, and the random id of its server-side session (`dashboard_sessions` keeps the
id's SHA-256). The server refuses it `idle_s` after it was last seen or `max_s` after it was
issued, whatever the browser keeps; each answer within the session re-signs it with a new
"last seen". A session ended server-side (signed out, its member offboarded or made
inactive, its auditor grant revoked) is refused whatever copy of its cookie comes back.
"""
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service import audit
from service.context import ServiceContext
from service.errors import NotAllowed, StoreConflict
from store import auditors as grant_rows
from store import sessions as session_rows
from store.db import Conn

SESSION_PURPOSE = "session"
STAFF = "staff"  # a staff member signed in with OpenID Connect; subject: Slack id
AUDITOR = "auditor"  # an auditor grant's link was used; subject: the grant id
KINDS = (STAFF, AUDITOR)
MAX_COOKIE_CHARS = 600  # a real one is under 250; longer is refused unread
CLOCK_SKEW_SECONDS = 60
SESSION_ENTITY = "dashboard_session"  # the audit trail's entity of a session's end
_SID = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)
ENDED = "Your session has ended (signed out, idle too long, or not valid). Sign in again."
# why a session ended (dashboard_sessions.ended_why)
SIGNED_OUT, OFFBOARDED, MADE_INACTIVE, GRANT_REVOKED = (
    "signed out", "offboarded", "made inactive", "grant revoked")


class SessionEnded(NotAllowed):
    """A well-signed cookie whose server-side session is unknown or has ended: the browser
    is told its session ended (401), as for an idle or forged one."""

    def __init__(self) -> None:
        super().__init__(ENDED)


@dataclass(frozen=True)
class DashboardLogin:
    """A signed-in dashboard session as its cookie carries it (Unix seconds); `sid` names its
    server-side record."""

    kind: str
    subject: str
    issued: int
    seen: int
    sid: str

    @property
    def actor(self) -> str:
        """Who the audit trail names for this session."""
        return self.subject if self.kind == STAFF else f"auditor:{self.subject}"


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, b"rpm-logger session v1:" + payload.encode(), hashlib.sha256).hexdigest()


def session_cookie(key: bytes, session: DashboardLogin) -> str:
    body = json.dumps({"k": session.kind, "s": session.subject, "i": session.issued,
                       "t": session.seen, "d": session.sid}, separators=(",", ":"),
                      sort_keys=True)
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(key, payload)}"


def signed_session(key: bytes, value: str | None) -> DashboardLogin | None:
    """The session a cookie signed with `key` names, whatever its age (sign-out ends even a
    stale one), or None: unsigned, forged, malformed."""
    if not value or len(value) > MAX_COOKIE_CHARS:
        return None
    payload, dot, mac = value.partition(".")
    if not dot or not hmac.compare_digest(mac.encode(), _mac(key, payload).encode()):
        return None
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or data.get("k") not in KINDS:
        return None
    subject, issued, seen, sid = data.get("s"), data.get("i"), data.get("t"), data.get("d")
    if not isinstance(subject, str) or type(issued) is not int or type(seen) is not int:
        return None
    if not isinstance(sid, str) or not _SID.fullmatch(sid):
        return None  # signed before sessions were kept server-side: sign in again
    return DashboardLogin(data["k"], subject, issued, seen, sid)


def session_from_cookie(key: bytes, value: str | None, now: int, *, idle_s: int,
                        max_s: int) -> DashboardLogin | None:
    """The session the cookie carries, or None: unsigned, forged, malformed, idle longer
    than `idle_s`, older than `max_s`, or dated in the future. Whether the server still
    holds it open is `require_live_in`'s to say."""
    session = signed_session(key, value)
    if session is None:
        return None
    issued, seen = session.issued, session.seen
    if not (now - max_s <= issued <= seen <= now + CLOCK_SKEW_SECONDS and seen >= now - idle_s):
        return None
    return session


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_in(conn: Conn, kind: str, subject: str, now: datetime) -> tuple[DashboardLogin, int]:
    """A new session of `subject`, recorded server-side in the caller's write transaction
    (the sign-in's, whose audit record names the session's row id); the login and that id."""
    sid = secrets.token_urlsafe(24)
    pk = session_rows.add(conn, sid_hash=_sid_hash(sid), kind=kind, subject=subject, at=now)
    stamp = int(now.timestamp())
    return DashboardLogin(kind, subject, stamp, stamp, sid), pk


def require_live_in(conn: Conn, login: DashboardLogin) -> None:
    """SessionEnded unless the server holds `login`'s session open (read with the viewer,
    in the request's one read transaction)."""
    row = session_rows.by_hash(conn, _sid_hash(login.sid))
    if row is None or row.ended_at is not None or (row.kind, row.subject) != (
            login.kind, login.subject):
        raise SessionEnded()


def end_all_in(conn: Conn, kind: str, subject: str, *, now: datetime, actor: str,
               why: str) -> int:
    """End every open session of `subject` in the caller's write transaction (an
    offboarding, a deactivation, a grant's revoke), with one audit record when any was
    open; how many ended."""
    ended = session_rows.end_all(conn, kind=kind, subject=subject, at=now, by=actor, why=why)
    if ended:
        audit.record(conn, at=now, actor=actor, action="end", entity=SESSION_ENTITY,
                     entity_id=f"{kind}:{subject}", after={"sessions": ended, "why": why})
    return len(ended)


class KeyRing:
    """The dashboard's signing key, read (or made) once per process."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._key: bytes | None = None

    def existing(self) -> bytes | None:
        """The key if one was made, else None (nothing written): checking a cookie or a link
        never makes one, so a forged one changes nothing."""
        if self._key is None:
            with self.ctx.db.read() as conn:
                found = grant_rows.key(conn, SESSION_PURPOSE)
            if found is not None:
                self._key = bytes.fromhex(found)
        return self._key

    def key(self) -> bytes:
        if self._key is None:
            with self.ctx.db.read() as conn:
                found = grant_rows.key(conn, SESSION_PURPOSE)
            if found is None:
                found = self._make()
            self._key = bytes.fromhex(found)
        return self._key

    def _make(self) -> str:
        made = secrets.token_hex(32)
        try:
            with self.ctx.db.write() as conn:
                found = grant_rows.key(conn, SESSION_PURPOSE)
                if found is not None:
                    return found
                grant_rows.add_key(conn, SESSION_PURPOSE, made, self.ctx.now())
                audit.record(conn, at=self.ctx.now(), actor="rpm-logger", action="create",
                             entity="dashboard_key", entity_id=SESSION_PURPOSE)  # no secret
        except StoreConflict:  # another process made it first
            with self.ctx.db.read() as conn:
                again = grant_rows.key(conn, SESSION_PURPOSE)
            if again is None:
                raise
            return again
        return made


class SessionService:
    """Signing out: the session ends server-side, so no copy of its cookie works again."""

    def __init__(self, ctx: ServiceContext, keys: KeyRing) -> None:
        self.ctx = ctx
        self.keys = keys

    def sign_out(self, cookie: str | None) -> bool:
        """End the session the cookie names (signed with the dashboard key, however old);
        one audit record. False when it names none or it had ended: nothing written."""
        key = self.keys.existing()
        login = signed_session(key, cookie) if key is not None else None
        if login is None:
            return False
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            pk = session_rows.end(conn, _sid_hash(login.sid), at=now, by=login.actor,
                                  why=SIGNED_OUT)
            if pk is None:
                return False
            audit.record(conn, at=now, actor=login.actor, action="sign_out",
                         entity=SESSION_ENTITY, entity_id=pk, after={"why": SIGNED_OUT})
        return True
