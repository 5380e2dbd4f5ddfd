"""Dashboard sessions: the signing key and the signed session cookie (issue 24).

The key is 32 random bytes made on first use and kept in the database (`dashboard_keys`), so
every `serve` process and the CLI (which signs auditor links) share it with nothing to
configure; a backup carries it with the rest of the database. Rotating it (delete the row)
ends every session and every unused auditor link.

A session cookie is `<payload>.<mac>`: the payload is base64url JSON `{"k": kind, "s":
subject, "i": issued, "t": last seen}` (Unix seconds) and the mac an HMAC-SHA256 over it.
It carries no PHI and no name: a staff member's Slack id or an auditor grant's id. The server
refuses it `idle_s` after it was last seen or `max_s` after it was issued, whatever the
browser keeps; each answer within the session re-signs it with a new "last seen".
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from service import audit
from service.context import ServiceContext
from service.errors import StoreConflict
from store import auditors as grant_rows

SESSION_PURPOSE = "session"
STAFF = "staff"  # a staff member signed in with OpenID Connect; subject: Slack id
AUDITOR = "auditor"  # an auditor grant's link was used; subject: the grant id
KINDS = (STAFF, AUDITOR)
MAX_COOKIE_CHARS = 600  # a real one is under 200; longer is refused unread
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class DashboardLogin:
    """A signed-in dashboard session as its cookie carries it (Unix seconds)."""

    kind: str
    subject: str
    issued: int
    seen: int


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, b"rpm-logger session v1:" + payload.encode(), hashlib.sha256).hexdigest()


def session_cookie(key: bytes, session: DashboardLogin) -> str:
    body = json.dumps({"k": session.kind, "s": session.subject, "i": session.issued,
                       "t": session.seen}, separators=(",", ":"), sort_keys=True)
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(key, payload)}"


def session_from_cookie(key: bytes, value: str | None, now: int, *, idle_s: int,
                 max_s: int) -> DashboardLogin | None:
    """The session the cookie carries, or None: unsigned, forged, malformed, idle longer
    than `idle_s`, older than `max_s`, or dated in the future."""
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
    subject, issued, seen = data.get("s"), data.get("i"), data.get("t")
    if not isinstance(subject, str) or type(issued) is not int or type(seen) is not int:
        return None
    if not (now - max_s <= issued <= seen <= now + CLOCK_SKEW_SECONDS and seen >= now - idle_s):
        return None
    return DashboardLogin(data["k"], subject, issued, seen)


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
