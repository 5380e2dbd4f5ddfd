"""Who may see the dashboard.

With DASHBOARD_TOKEN set, a request must carry the token as `Authorization: Bearer <token>`
or the signed cookie that `?token=<token>` sets once (HMAC of the token, so the cookie is not
the token itself and changing the token logs everybody out). Without it the dashboard is
served to loopback clients only: on a clinic server that means someone already on the
machine (or an SSH tunnel), never the network.
"""

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from enum import Enum

COOKIE_NAME = "rpm_dashboard"
_COOKIE_PURPOSE = b"rpm-logger dashboard session v1"


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


def cookie_value(token: str) -> str:
    """The cookie proving the token was given: HMAC-SHA256 keyed with the token."""
    return hmac.new(token.encode(), _COOKIE_PURPOSE, hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class Credentials:
    """What a request brought: client address, bearer token, cookie, ?token= value."""

    client_host: str | None
    bearer: str | None = None
    cookie: str | None = None
    query_token: str | None = None


def bearer_of(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def decide(token: str | None, creds: Credentials) -> Verdict:
    """The access rule, pure so every branch is tested without a server."""
    if not token:
        return Verdict.ALLOWED if is_loopback(creds.client_host) else Verdict.FORBIDDEN
    if _same(creds.query_token, token):
        return Verdict.SET_COOKIE
    if _same(creds.bearer, token) or _same(creds.cookie, cookie_value(token)):
        return Verdict.ALLOWED
    return Verdict.UNAUTHORIZED
