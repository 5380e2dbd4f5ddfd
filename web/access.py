"""Who may see the dashboard, and the operator's /metrics.

With DASHBOARD_TOKEN set, a request must carry the token as `Authorization: Bearer <token>`
or the session cookie that `?token=<token>` sets once. The cookie is `<issued-at>.<mac>`:
the Unix second it was issued and an HMAC keyed with the token over that second, so it is
not the token itself, the server refuses it SESSION_SECONDS after issue (whatever the
browser keeps), and changing the token logs everybody out. Without a token the dashboard is
served to loopback clients only: on a clinic server that means someone already on the
machine (or an SSH tunnel), never the network.

/metrics (web/metrics.py) answers a loopback client, or any client bearing METRICS_TOKEN;
a bearer that is not the token is refused even on loopback (a scraper with a stale token
should hear so). Both rules ask the one question "is this client on this machine?" of
`from_loopback`.

Behind the reverse proxy (Caddy on the same host, docs/deploy.md) every request arrives from
loopback, so the client is the one the proxy names: when the peer is on loopback and the
request carries `X-Forwarded-For`, the client is its right-most entry, the one the proxy
appended (Caddy replaces what an untrusted client sent with the address it saw); a remote
client proxied in (`X-Forwarded-For: 203.0.113.5`) is not on this machine. From any other
peer the header is ignored: the peer is the client. This module is the only place that reads
the forwarded headers: `serve` runs uvicorn with its proxy-header rewriting off
(rpm_logger/cli/root.py), so the ASGI scope's client is always the peer, whatever
FORWARDED_ALLOW_IPS says.
"""

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from enum import Enum

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from billing.digits import is_digits

COOKIE_NAME = "rpm_dashboard"  # DASHBOARD_TOKEN's session
SESSION_COOKIE = "rpm_session"  # a signed-in person's session (service/sessions.py)
SESSION_SECONDS = 12 * 3600  # a working day; the token logs in again after that
CLOCK_SKEW_SECONDS = 60  # a cookie "issued" further in the future than this is refused
_COOKIE_PURPOSE = b"rpm-logger dashboard session v2"


class Verdict(Enum):
    ALLOWED = "allowed"
    SET_COOKIE = "set_cookie"  # the right ?token=: allow, and remember it in the cookie
    UNAUTHORIZED = "unauthorized"  # 401: a token is required and none (or a wrong one) came
    FORBIDDEN = "forbidden"  # 403: no token configured and the client is not on loopback


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8 or ::1 (also as an IPv4-mapped IPv6 address); anything else is not."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def forwarded_client(peer: str | None, forwarded_for: list[str]) -> str | None:
    """The client's address: the right-most `X-Forwarded-For` entry (all the request's
    headers of that name, in order) when the peer is on loopback (the proxy) and names one,
    else the peer. A loopback peer that forwards an empty entry names no client: None."""
    if not is_loopback(peer) or not forwarded_for:
        return peer
    named = ",".join(forwarded_for).rsplit(",", 1)[-1].strip()
    return named or None


def client_host(connection: HTTPConnection) -> str | None:
    """The address of this request's client, as `forwarded_client` reads it."""
    peer = connection.client.host if connection.client else None
    return forwarded_client(peer, connection.headers.getlist("x-forwarded-for"))


def forwarded_https(connection: HTTPConnection) -> bool:
    """Whether the client reached us over HTTPS: the scheme itself, or the loopback proxy's
    `X-Forwarded-Proto: https` (Caddy terminates TLS and proxies over plain HTTP)."""
    if connection.url.scheme == "https":
        return True
    peer = connection.client.host if connection.client else None
    proto = connection.headers.getlist("x-forwarded-proto")
    return is_loopback(peer) and bool(proto) and proto[-1].strip().lower() == "https"


class ForwardedScheme:
    """ASGI middleware: a request the loopback proxy forwarded from HTTPS
    (`forwarded_https`) is an https request for the app, so the URLs Starlette builds from
    it (the trailing-slash redirect: `/metrics/` -> `https://host/metrics`) keep the scheme
    the client used, where they said `http://` behind Caddy (outside IT, issue 23). Only the
    scheme: the client is still `client_host`'s to decide."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope.get("scheme") == "http"
                and forwarded_https(HTTPConnection(scope))):
            # in place: what the router writes into the scope (the route template) must reach
            # the middleware outside this one (observability/requests.py counts by it)
            scope["scheme"] = "https"
        await self.app(scope, receive, send)


def from_loopback(connection: HTTPConnection) -> bool:
    """Whether the client of this request is on this machine: the one decision the
    dashboard's no-token mode and /metrics share, about the client the proxy names when a
    proxy on this machine forwarded the request (`client_host`)."""
    return is_loopback(client_host(connection))


def _mac(token: str, issued_at: int) -> str:
    message = _COOKIE_PURPOSE + b":" + str(issued_at).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def cookie_value(token: str, issued_at: int) -> str:
    """The session cookie issued at `issued_at` (Unix seconds), signed with the token."""
    return f"{issued_at}.{_mac(token, issued_at)}"


def cookie_valid(token: str, cookie: str | None, now: int) -> bool:
    """The cookie was signed with this token and issued at most SESSION_SECONDS ago."""
    issued_text, dot, mac = (cookie or "").partition(".")
    if not dot or not is_digits(issued_text) or len(issued_text) > 12:
        return False
    issued_at = int(issued_text)
    if not _same(mac, _mac(token, issued_at)):
        return False
    return now - SESSION_SECONDS <= issued_at <= now + CLOCK_SKEW_SECONDS


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Credentials:
    """What a request brought: whether it came from loopback, bearer token, cookie, ?token=."""

    loopback: bool
    bearer: str | None = None
    cookie: str | None = None
    query_token: str | None = None


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def decide(token: str | None, creds: Credentials, now: int) -> Verdict:
    """The access rule at Unix second `now`, pure so every branch is tested without a server."""
    if not token:
        return Verdict.ALLOWED if creds.loopback else Verdict.FORBIDDEN
    if _same(creds.query_token, token):
        return Verdict.SET_COOKIE
    if _same(creds.bearer, token) or cookie_valid(token, creds.cookie, now):
        return Verdict.ALLOWED
    return Verdict.UNAUTHORIZED


def metrics_allowed(token: str | None, bearer: str | None, loopback: bool) -> bool:
    """/metrics: the right bearer token from anywhere; no bearer from loopback. A bearer that
    is not the token (or with no token configured) is refused wherever it comes from."""
    if bearer is not None:
        return bool(token) and _same(bearer, token or "")
    return loopback
