"""The dashboard's routes: the month, a patient's page and audit packet, the month's
self-audit findings and the month CSV, behind one guard.

Handlers are plain `def`s (FastAPI runs them in its thread pool) because the service is
synchronous; each one parses, calls the service and renders, nothing more.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from billing.errors import InvalidInput
from billing.months import Month, days_left
from configuration.settings import Settings
from presentation import packet
from presentation.render import report_csv
from service import Service
from service.access import (
    PACKET,
    PATIENT_PAGE,
    REPORT,
    Viewer,
    default_month,
    require_month_wide,
)
from service.errors import NotAllowed, NotFound, StoreUnavailable
from service.sessions import (
    AUDITOR,
    ENDED,
    DashboardLogin,
    SessionEnded,
    session_cookie,
    session_from_cookie,
)
from web import pages
from web.access import (
    COOKIE_NAME,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Credentials,
    Verdict,
    bearer_of,
    cookie_value,
    decide,
    forwarded_https,
    from_loopback,
)

# No script, no external asset, no framing; inline styles only (the bars' widths).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _html(status: int, heading: str, text: str, *, login: bool = False,
          sign_in: bool = False) -> HTMLResponse:
    return HTMLResponse(pages.message_page(status=status, heading=heading, text=text,
                                           login=login, sign_in=sign_in), status_code=status)


TOKEN_ACTOR = "dashboard-token"  # who the access log names for DASHBOARD_TOKEN
LOOPBACK_ACTOR = "loopback"  # ... and for a loopback client when nothing is configured
SESSION_ENDED = ENDED


@dataclass(frozen=True)
class Gate:
    """What the dashboard's guard is configured with."""

    token: str | None  # DASHBOARD_TOKEN
    idle_s: int  # DASHBOARD_SESSION_MINUTES
    sign_in: bool  # OpenID Connect is configured: refusals offer "Sign in"


@dataclass(frozen=True)
class Admission:
    """A request the dashboard serves: who asks, and their session to re-sign on the way
    out (its "last seen" moves on: the idle timeout counts from the latest request)."""

    viewer: Viewer
    session: DashboardLogin | None = None


def _secure(request: Request) -> bool:
    """Session cookies are Secure except over plain http from this machine (development,
    tests): a browser elsewhere then never sends one over an unencrypted connection."""
    return forwarded_https(request) or not from_loopback(request)


def set_session(request: Request, response: Response, session: DashboardLogin) -> None:
    value = session_cookie(_service(request).keys.key(), session)
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_SECONDS, path="/",
                        httponly=True, samesite="lax", secure=_secure(request))


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(COOKIE_NAME, path="/")


def _signed_out(gate: Gate) -> Response:
    """401 "Your session has ended", the cookie deleted, no PHI."""
    refused = _html(401, "Signed out", SESSION_ENDED, sign_in=gate.sign_in,
                    login=gate.token is not None and not gate.sign_in)
    end_session(refused)
    return refused


def _session_viewer(request: Request, raw: str, gate: Gate) -> Response | Admission:
    """The signed-in viewer of a session cookie, read now (an inactive member, a revoked or
    expired grant: refused), or the refusal; a refused cookie is deleted."""
    service = _service(request)
    now = int(service.ctx.now().timestamp())
    key = service.keys.existing()  # none yet: no session was ever signed
    session = session_from_cookie(key, raw, now, idle_s=gate.idle_s, max_s=SESSION_SECONDS) \
        if key is not None else None
    if session is None:
        return _signed_out(gate)
    try:
        if session.kind == AUDITOR:
            viewer = service.auditors.viewer(session)
        else:
            viewer = service.access.staff_viewer(session)
    except SessionEnded:  # signed out (or ended) server-side: this copy of the cookie too
        return _signed_out(gate)
    except NotAllowed as exc:
        refused = _html(403, "Forbidden", str(exc))
        end_session(refused)
        return refused
    return Admission(viewer, replace(session, seen=now))


def _guard(request: Request, gate: Gate) -> Response | Admission:
    """Who is asking when the request may see the dashboard, else the response to send."""
    token = gate.token
    bearer = bearer_of(request.headers.get("authorization"))
    raw_session = request.cookies.get(SESSION_COOKIE)
    if raw_session and bearer is None:
        return _session_viewer(request, raw_session, gate)
    creds = Credentials(
        loopback=from_loopback(request),
        bearer=bearer,
        cookie=request.cookies.get(COOKIE_NAME),
        query_token=request.query_params.get("token"),
    )
    now = int(_service(request).ctx.now().timestamp())
    verdict = decide(token, creds, now)
    if verdict is Verdict.ALLOWED:
        return Admission(Viewer.admin(TOKEN_ACTOR if token else LOOPBACK_ACTOR))
    if gate.sign_in and verdict in (Verdict.FORBIDDEN, Verdict.UNAUTHORIZED):
        return _html(401, "Sign in", "Sign in to see the dashboard.", sign_in=True,
                     login=token is not None)
    if verdict is Verdict.FORBIDDEN:
        return _html(403, "Forbidden", "Without DASHBOARD_TOKEN the dashboard is served to this "
                     "machine only (127.0.0.1 or ::1). Set DASHBOARD_TOKEN to open it from "
                     "elsewhere.")
    if verdict is Verdict.UNAUTHORIZED:
        return _html(401, "Token needed", "This dashboard needs the clinic's dashboard token.",
                     login=True)
    assert token is not None
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE_NAME, cookie_value(token, now), max_age=SESSION_SECONDS,
                        path="/", httponly=True, samesite="strict",
                        secure=forwarded_https(request))
    return response


def _month(service: Service, text: str | None, viewer: Viewer) -> Month:
    return Month.parse(text) if text else default_month(viewer, service.months.current())


T = TypeVar("T")


def _safely(render: Callable[[], T]) -> T | Response:
    """Refused input is a 400/404 page, a database that does not answer a 503 page."""
    try:
        return render()
    except NotAllowed as exc:  # before NotFound: a scoped viewer's unknown patient is this
        return _html(403, "Forbidden", str(exc))
    except NotFound as exc:
        return _html(404, "Not found", str(exc))
    except InvalidInput as exc:
        return _html(400, "Cannot show that", str(exc))
    except StoreUnavailable:
        return _html(503, "Database unavailable", "The database did not answer; try again in "
                     "a moment.")


def _page(request: Request, gate: Gate,
          render: Callable[[Service, Viewer], Response]) -> Response:
    """Every dashboard route: the guard first, then `render` with the service and the
    viewer, refusals as pages, and the security headers on whatever is sent."""
    admitted = _safely(lambda: _guard(request, gate))
    if isinstance(admitted, Response):
        return _secured(admitted)
    service = _service(request)
    response = _safely(lambda: render(service, admitted.viewer))
    if admitted.session is not None and response.status_code < 400:
        set_session(request, response, admitted.session)
    return _secured(response)


# OpenAPI only (the schema is not served publicly; tests fuzz the routes from it)
MonthParam = Annotated[str | None, Query(description="YYYY-MM; default: the current clinic "
                                         "month", examples=["2026-11"])]
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "unreadable month or staff id (a page saying what to type)"},
    401: {"description": "DASHBOARD_TOKEN is set and neither it nor a live session came"},
    403: {"description": "DASHBOARD_TOKEN is unset and the client is not on loopback, or "
                         "the viewer may not see this page"},
    404: {"description": "no such patient"},
    503: {"description": "the database did not answer"},
}


def dashboard_router(settings: Settings) -> APIRouter:
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    gate = Gate(token, settings.dashboard_session_minutes * 60, settings.oidc_configured)
    router = APIRouter(tags=["dashboard"], responses=_REFUSALS)

    @router.get("/", response_class=HTMLResponse)
    def month_view(request: Request, month: MonthParam = None,
                   staff: Annotated[str | None, Query(
                       description="only this staff member's patients (Slack user id)",
                       examples=["U01NURSE"])] = None) -> Response:
        def render(service: Service, viewer: Viewer) -> Response:
            page = service.dashboard.month_page(Month.parse(month) if month else None,
                                                assigned_to=staff or None, viewer=viewer)
            return HTMLResponse(pages.month_page(
                month=page.month, today_days_left=days_left(page.month, page.today),
                rows=page.rows, staff=page.staff, staff_filter=page.staff_filter,
                series=page.series, fees=service.ctx.policy.fees, closed_by=page.closed_by,
                admin=viewer.is_admin, signed_in=viewer.label,
            ))

        return _page(request, gate, render)

    @router.get("/patients/{patient_id}", response_class=HTMLResponse)
    def patient_view(request: Request,
                     patient_id: Annotated[str, Path(description="clinic id or phone",
                                                     examples=["P-1042"])],
                     month: MonthParam = None) -> Response:
        def render(service: Service, viewer: Viewer) -> Response:
            chosen = _month(service, month, viewer)
            service.access.record(viewer, PATIENT_PAGE, chosen, patient_id)  # before reading
            page = service.dashboard.patient(patient_id, chosen, viewer=viewer)
            return HTMLResponse(pages.patient_page(month=chosen, page=page,
                                                   zone=service.ctx.policy.zone,
                                                   signed_in=viewer.label))

        return _page(request, gate, render)

    @router.get("/patients/{patient_id}/packet", response_class=HTMLResponse)
    def packet_view(request: Request,
                    patient_id: Annotated[str, Path(description="clinic id or phone",
                                                    examples=["P-1042"])],
                    month: MonthParam = None) -> Response:
        """The patient's audit packet for the month: printable HTML carrying its content
        and SHA-256 (the one `rpm-logger audit packet` prints)."""
        def render(service: Service, viewer: Viewer) -> Response:
            chosen = _month(service, month, viewer)
            service.access.record(viewer, PACKET, chosen, patient_id)  # before reading
            return HTMLResponse(packet.html(service.audit_packets.packet(patient_id, chosen)))

        return _page(request, gate, render)

    @router.get("/self-audit", response_class=HTMLResponse)
    def self_audit_view(request: Request, month: MonthParam = None) -> Response:
        """The month's self-audit findings (the list `rpm-logger audit checks` prints)."""
        def render(service: Service, viewer: Viewer) -> Response:
            require_month_wide(viewer)
            chosen = _month(service, month, viewer)
            return HTMLResponse(pages.self_audit_page(
                month=chosen, checks=service.audit_checks.run(chosen)))

        return _page(request, gate, render)

    @router.get("/reports/{month}.csv", response_class=Response,
                responses={200: {"description": "the month's report", "content": {"text/csv": {}}}})
    def report_download(request: Request, month: Annotated[str, Path(
            description="YYYY-MM", examples=["2026-11"])]) -> Response:
        def render(service: Service, viewer: Viewer) -> Response:
            chosen = Month.parse(month)
            service.access.record(viewer, REPORT, chosen)  # before reading
            return Response(report_csv(service.months.report_rows(chosen)), media_type="text/csv",
                            headers={"Content-Disposition":
                                     f'attachment; filename="rpm-report-{chosen}.csv"'})

        return _page(request, gate, render)

    @router.get("/auditor/sign-in", response_class=HTMLResponse, include_in_schema=False)
    def auditor_link(request: Request, link: str = "") -> Response:
        """An auditor's one-time link: a page whose button uses it (a link preview or a
        mail scanner fetching the URL does not use it up)."""
        return _secured(HTMLResponse(pages.auditor_sign_in_page(link=link[:200])))

    @router.post("/auditor/sign-in", response_class=HTMLResponse, include_in_schema=False)
    async def auditor_sign_in(request: Request) -> Response:
        """Use the link once: a read-only session limited to the grant, or a refusal that
        changes nothing (expired, revoked, already used, not a link)."""
        form = await request.form()
        link = form.get("link")
        service = _service(request)

        def redeem() -> DashboardLogin | Response:
            return service.auditors.redeem(link if isinstance(link, str) else "")

        started = await run_in_threadpool(_safely, redeem)
        if isinstance(started, Response):
            return _secured(started)
        response = RedirectResponse("/", status_code=303)
        await run_in_threadpool(set_session, request, response, started)
        return _secured(response)

    @router.post("/sign-out", response_class=HTMLResponse, include_in_schema=False)
    def sign_out(request: Request) -> Response:
        """End the session server-side (no copy of its cookie works again), then forget
        the cookies; a database that does not answer keeps them, to try again."""
        try:
            _service(request).sessions.sign_out(request.cookies.get(SESSION_COOKIE))
        except StoreUnavailable:
            return _secured(_html(503, "Not signed out yet", "The database did not answer, "
                                  "so the session is still open. Try again in a moment."))
        response = _html(200, "Signed out", "You are signed out of the dashboard.",
                         sign_in=gate.sign_in)
        end_session(response)
        return _secured(response)

    return router
