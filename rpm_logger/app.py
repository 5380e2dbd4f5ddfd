"""The one ASGI app: health, the web dashboard, and the routes the Slack and Twilio adapters
mount. This is the composition root: the adapters never import one another, so what one
needs of another is wired here (telephony's dialer for the bot's click-to-call, the Slack
DMs for telephony's call notices), and each of them gets the app's metrics to count into
(one registry per app: observability/metrics.py).

Nothing connects at import time: the lifespan opens the database, so importing this module
(tests, tools) needs no database.
"""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from configuration.deadlines import ANSWER_MARGIN_S, NoAnswer, within
from configuration.limits import BodySizeLimit
from configuration.settings import Settings, get_settings
from observability.metrics import Metrics
from observability.requests import RequestTelemetry
from rpm_logger.wiring import build_service, describe_configuration, open_database
from service import Service
from store import logsafe
from store.db import Database, sqlite_files
from store.leadership import Leadership
from web.access import ForwardedScheme
from web.metrics import metrics_router
from web.readings import READINGS_PATH, readings_router
from web.routes import dashboard_router
from web.signin import oidc_router

if TYPE_CHECKING:
    from bot.notice_courier import NoticeCourier
    from reminders.scheduler import ReminderScheduler
    from telephony.reconcile_job import ReconcileScheduler
    from telephony.rest import TwilioDialer

log = logging.getLogger("rpm_logger")

# How uvicorn runs the app (`serve`, and the tests' real servers): its proxy-header rewriting
# off, so the scope's client is always the socket's peer and the forwarded headers are read in
# one place only, web/access.py (from loopback only; FORWARDED_ALLOW_IPS changes nothing).
SERVER_OPTIONS = {"proxy_headers": False}


# /healthz's worker threads: a probe abandoned at its deadline (a black-holed database) keeps
# its thread until the store cuts it off, so a few, never the requests' shared ones
HEALTH_PROBE_THREADS = 4


def _probe_threads(app: FastAPI) -> anyio.CapacityLimiter:
    """/healthz's own threads (made in the running loop, as anyio wants): a busy process is
    healthy, and Caddy's probe must not wait behind the requests it balances (with every
    thread taken by a burst, the one process left after a crash was taken out and Caddy
    answered 503 to everyone)."""
    limiter: anyio.CapacityLimiter | None = getattr(app.state, "probe_threads", None)
    if limiter is None:
        limiter = app.state.probe_threads = anyio.CapacityLimiter(HEALTH_PROBE_THREADS)
    return limiter


def _not_configured(what: str, how: str) -> JSONResponse:
    return JSONResponse({"error": f"{what} is not configured", "how": how}, status_code=503)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """A client that hung up before its request body arrived (slow, cut off, or holding
    connections open on purpose): one warning line, where uvicorn logged a full ERROR
    traceback per client. Nothing was read, so nothing changed; the answer goes nowhere.
    The path is logged with any number in it withheld, never the body or the query."""
    log.warning("client disconnected before its request was read: %s %s", request.method,
                logsafe.withhold_numbers_in_path(request.url.path))
    return Response(status_code=400)


def _start_reminders(settings: Settings, service: Service,
                     leadership: Leadership, metrics: Metrics) -> "ReminderScheduler | None":
    """The reminder scheduler, when REMINDERS_ENABLED and Slack can be reached."""
    if not (settings.reminders_enabled and settings.slack_bot_token):
        return None
    from reminders.scheduler import ReminderScheduler

    scheduler = ReminderScheduler(settings, service, leading=leadership.leading,
                                  metrics=metrics)
    scheduler.start()
    return scheduler


def _start_reconcile(settings: Settings, service: Service,
                     leadership: Leadership, metrics: Metrics) -> "ReconcileScheduler | None":
    """The daily Twilio reconciliation, when Twilio is configured and RECONCILE_ENABLED."""
    if not (settings.reconcile_enabled and settings.twilio_configured):
        return None
    from telephony.reconcile_job import ReconcileScheduler

    scheduler = ReconcileScheduler(settings, service, leading=leadership.leading,
                                   metrics=metrics)
    scheduler.start()
    return scheduler


def _start_notices(settings: Settings, service: Service,
                   leadership: Leadership, metrics: Metrics) -> "NoticeCourier | None":
    """The call DMs' courier, when Twilio can queue them and Slack can carry them."""
    if not (settings.twilio_configured and settings.slack_bot_token):
        return None
    from bot.notice_courier import NoticeCourier

    courier = NoticeCourier(service, settings, leadership.leading, metrics)
    courier.start()
    return courier


def _dialer(settings: Settings, service: Service,
            metrics: Metrics | None = None) -> "TwilioDialer | None":
    """Click-to-call for the Slack bot: telephony's dialer, unless no Twilio setting is given
    at all (the bot then lists them all); when some are, the dialer's refusal names only
    the missing ones."""
    if len(settings.click_to_call_missing()) == 4:
        return None
    from telephony.rest import TwilioDialer

    return TwilioDialer(service, settings, metrics)


def _watch_database(db: Database, metrics: Metrics) -> None:
    """Count the transactions the database refuses; on a SQLite file, watch its disk."""
    db.on_error = metrics.database_error
    files = sqlite_files(db.url)
    if files:
        metrics.watch_disk(files[0].parent)


# Young-generation collections under `serve` run every this many allocations (Python's
# default: 700): see `_settle_gc`.
GC_GEN0_THRESHOLD = 20_000


def _settle_gc() -> None:
    """Once the service has started: what start-up built (modules, the app, the service,
    the prebuilt statements) is moved out of the collector's reach (`gc.freeze`), and the
    young generation is collected every GC_GEN0_THRESHOLD allocations instead of 700. A
    request allocates thousands of short-lived, almost never cyclic objects: the default ran
    several collections per request, each walking the young objects and, every tenth, the
    whole of start-up's. Measured in bench/RESULTS.md (issue 25)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def create_app(settings: Settings | None = None, service: Service | None = None, *,
               settle_gc: bool = False) -> FastAPI:
    """The app; pass `service` to share one already built (tests), else the lifespan builds it.
    `settle_gc` (`serve`, a process of its own): `_settle_gc` once started."""
    settings = settings or get_settings()
    logsafe.install()  # no database error reaches a log with the values it was about
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        app.state.service = service or await run_in_threadpool(
            lambda: build_service(settings, open_database(settings))
        )
        _watch_database(app.state.service.ctx.db, metrics)
        slack = None
        if settings.slack_configured:
            from bot.app import SlackRuntime

            slack = app.state.slack = await SlackRuntime.start(
                settings, app.state.service, _dialer(settings, app.state.service, metrics),
                metrics)
        for line in describe_configuration(settings):
            log.info(line)
        # asked at each scheduled run; tried once now, so a running service always has a
        # leader (what `restore` checks before writing into the database)
        leadership = Leadership(app.state.service.ctx.db)
        await run_in_threadpool(leadership.leading)
        app.state.reminders = _start_reminders(settings, app.state.service, leadership,
                                               metrics)
        app.state.reconcile = _start_reconcile(settings, app.state.service, leadership,
                                               metrics)
        app.state.notices = _start_notices(settings, app.state.service, leadership, metrics)
        if settle_gc:
            _settle_gc()
        try:
            yield
        finally:
            if app.state.reconcile is not None:
                await app.state.reconcile.stop()
            if app.state.reminders is not None:
                await app.state.reminders.stop()
            if app.state.notices is not None:
                await app.state.notices.stop()
            await run_in_threadpool(leadership.release)
            if slack is not None:
                await slack.stop()
            if owned:
                app.state.service.ctx.db.dispose()

    # No /docs, /redoc or /openapi.json: the route list is nobody's business on a PHI
    # service (only /healthz is public); `app.openapi()` still builds it for the tests.
    app = FastAPI(title="rpm-logger", version="0.1.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.metrics = metrics  # GET /metrics serves it (web/metrics.py)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes,
                       by_path={READINGS_PATH: settings.device_max_request_bytes})
    # https behind the loopback proxy when it says so (web/access.py decides), so a redirect
    # the router builds keeps the client's scheme
    app.add_middleware(ForwardedScheme)
    # outermost: every request's id, route, status and time, a refused body's too
    app.add_middleware(RequestTelemetry, metrics=metrics)
    # raised wherever a body is read: SlackGate, the Twilio signature check, FastAPI's forms
    app.add_exception_handler(ClientDisconnect, _client_gone)

    healthz_s = settings.healthz_deadline_ms / 1000

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database takes a write (a rolled-back probe through the write path:
        nothing stays); 503 saying "read-only" when it answers but refuses writes,
        "unavailable" when it does not answer, within HEALTHZ_DEADLINE_MS whatever the
        database does (a black hole held this 70 s). Healthy means the service can save
        what people log."""
        db = request.app.state.service.ctx.db
        try:
            state = await within(healthz_s, lambda: db.health(healthz_s - ANSWER_MARGIN_S),
                                 _probe_threads(request.app))
        except NoAnswer:
            state = "unavailable"
        return JSONResponse({"database": state}, status_code=200 if state == "ok" else 503)

    # The dashboard is always mounted: without DASHBOARD_TOKEN it answers loopback clients only.
    app.include_router(dashboard_router(settings))
    # sign-in with OpenID Connect (answers "not configured" without OIDC_* settings)
    app.include_router(oidc_router(settings))
    # loopback, or METRICS_TOKEN as a bearer token, from anywhere
    app.include_router(metrics_router(settings))
    # signed by the device vendor (DEVICE_WEBHOOK_SECRET; 503 until it is set)
    app.include_router(readings_router(settings))

    if settings.slack_configured:
        async def slack_events(request: Request) -> Response:
            """Slash commands, interactivity and events on one signed URL (bot/)."""
            response: Response = await request.app.state.slack.handle(request)
            return response

        # a plain Starlette route: FastAPI's parameter machinery had nothing to do here but
        # still ran per request (SlackGate and Bolt read the request themselves)
        app.router.add_route("/slack/events", slack_events, methods=["POST"],
                             include_in_schema=False)
    else:
        @app.post("/slack/events", include_in_schema=False)
        async def slack_not_configured() -> JSONResponse:
            return _not_configured("Slack", "set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")

    if settings.twilio_configured:
        from bot.call_dms import SlackCallDMs
        from telephony.routes import make_router

        app.include_router(make_router(
            settings, notifier=SlackCallDMs.from_settings(settings, metrics), metrics=metrics))
    else:
        @app.post("/twilio/{path:path}", include_in_schema=False)
        async def twilio_not_configured(path: str) -> JSONResponse:
            return _not_configured("Twilio", "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                                   "PUBLIC_BASE_URL")

    return app
