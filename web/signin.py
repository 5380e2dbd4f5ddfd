"""Dashboard sign-in with OpenID Connect (issue 24), through authlib's Starlette client.

Any provider by its issuer URL (OIDC_ISSUER; authlib reads its discovery document, then its
JWKS): the authorization-code flow with a state and a nonce; authlib checks the state, then
the ID token's RS256 signature, issuer, audience, expiry and nonce. Who the person is, and
whether they may see anything, is the service's (`AccessService.sign_in`).

authlib keeps the flow's state in `request.session`; instead of a session middleware for the
whole app, the two routes here carry it in a short-lived cookie of their own (`rpm_oidc`,
path /sign-in, 10 minutes), signed with the dashboard key (service/sessions.py), and put it
into the request's scope for authlib. A callback with a wrong or missing state, a forged
cookie, a refused token or an unknown person is a 403 that says so, with no PHI; nothing
is written.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import warnings
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from configuration.settings import Settings
from service import Service
from service.errors import NotAllowed, StoreUnavailable
from service.sessions import DashboardLogin
from web.routes import _html, _secure, _secured, _service, set_session

with warnings.catch_warnings():
    # authlib 1.9 warns on import that httpx is deprecated (in favour of httpx2): a line on
    # stderr at every start, outside the log format; its httpx client works as it is.
    # authlib.deprecate turns its warnings "always" on when imported: import it first
    import authlib.deprecate  # noqa: F401
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.starlette_client import OAuth

log = logging.getLogger(__name__)

FLOW_COOKIE = "rpm_oidc"
FLOW_SECONDS = 600
FLOW_PATH = "/sign-in"
FAILED = ("Sign-in did not complete (it was started elsewhere, took too long, or the "
          "provider's answer could not be verified). Start again.")


def _flow_mac(key: bytes, payload: str) -> str:
    return hmac.new(key, b"rpm-logger sign-in flow v1:" + payload.encode(),
                    hashlib.sha256).hexdigest()


def _flow_cookie(key: bytes, data: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    text = payload.decode().rstrip("=")
    return f"{text}.{_flow_mac(key, text)}"


def _flow_data(key: bytes | None, value: str | None) -> dict[str, Any]:
    """The flow's state kept by the sign-in's start, or {} (absent, forged, unreadable)."""
    if key is None or not value or len(value) > 4096:
        return {}
    payload, dot, mac = value.partition(".")
    if not dot or not hmac.compare_digest(mac.encode(), _flow_mac(key, payload).encode()):
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def oidc_router(settings: Settings) -> APIRouter:
    router = APIRouter(tags=["sign-in"])
    oauth = OAuth()
    if settings.oidc_configured:
        assert settings.oidc_issuer and settings.oidc_client_secret
        oauth.register(
            "oidc", client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret.get_secret_value(),
            server_metadata_url=settings.oidc_issuer.rstrip("/")
            + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "timeout": 10})
    base_url = (settings.public_base_url or "").rstrip("/")

    def callback_url(request: Request) -> str:
        if base_url:
            return f"{base_url}/sign-in/callback"
        return str(request.url_for("oidc_callback"))

    def not_configured() -> Response:
        return _secured(_html(404, "Sign-in is not configured",
                              "This dashboard has no OpenID Connect sign-in (OIDC_ISSUER, "
                              "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)."))

    @router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        """Off to the provider, with a new state and nonce kept in the flow cookie."""
        if not settings.oidc_configured:
            return not_configured()
        service: Service = _service(request)
        try:
            key = await run_in_threadpool(service.keys.key)
        except StoreUnavailable:
            return _secured(_html(503, "Database unavailable", "Try again in a moment."))
        request.scope["session"] = {}
        try:
            response = await oauth.oidc.authorize_redirect(request, callback_url(request))
        except Exception as exc:  # noqa: BLE001 - the provider did not answer (discovery)
            log.warning("OpenID Connect discovery failed: %s", type(exc).__name__)
            return _secured(_html(503, "Sign-in unavailable", "The sign-in provider did not "
                                  "answer; try again in a moment."))
        response.set_cookie(FLOW_COOKIE, _flow_cookie(key, request.session),
                            max_age=FLOW_SECONDS, path=FLOW_PATH, httponly=True,
                            samesite="lax", secure=_secure(request))
        return _secured(response)

    @router.get("/sign-in/callback", response_class=HTMLResponse, include_in_schema=False,
                name="oidc_callback")
    async def oidc_callback(request: Request) -> Response:
        """The provider's answer: state checked, code exchanged, ID token verified, then the
        person looked up; a session on success, a 403 otherwise."""
        if not settings.oidc_configured:
            return not_configured()
        service: Service = _service(request)
        key = await run_in_threadpool(service.keys.existing)
        request.scope["session"] = _flow_data(key, request.cookies.get(FLOW_COOKIE))
        try:
            token = await oauth.oidc.authorize_access_token(request)
            claims = token.get("userinfo")
            if not claims:
                raise OAuthError(description="no ID token")
        except Exception as exc:  # noqa: BLE001 - every failure here is "not signed in"
            # authlib's own errors (a wrong state), joserfc's (signature, issuer, audience,
            # expiry, nonce), httpx's (a provider that does not answer): the kind is logged,
            # never the token, the claims or the provider's words
            log.warning("OpenID Connect sign-in refused: %s", type(exc).__name__)
            return _refused(_html(403, "Sign-in failed", FAILED, sign_in=True))
        try:
            login: DashboardLogin = await run_in_threadpool(service.access.sign_in,
                                                            dict(claims))
        except NotAllowed as exc:
            log.warning("OpenID Connect sign-in by an unknown or inactive identity")
            return _refused(_html(403, "Forbidden", str(exc)))
        except StoreUnavailable:
            return _refused(_html(503, "Database unavailable", "Try again in a moment."))
        response = RedirectResponse("/", status_code=303)
        await run_in_threadpool(set_session, request, response, login)
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return _secured(response)

    def _refused(response: Response) -> Response:
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
        return _secured(response)

    return router
