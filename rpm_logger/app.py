"""The one ASGI app: health, and the routes later adapters (Slack, Twilio, web) mount.

Nothing connects at import time: the lifespan opens the database, so importing this module
(tests, tools) needs no database.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rpm_logger.settings import Settings, get_settings
from rpm_logger.wiring import build_service, describe_configuration, open_database
from service import Service

log = logging.getLogger("rpm_logger")


def _not_configured(what: str, how: str) -> JSONResponse:
    return JSONResponse({"error": f"{what} is not configured", "how": how}, status_code=503)


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The app; pass `service` to share one already built (tests), else the lifespan builds it."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        app.state.service = service or await run_in_threadpool(
            lambda: build_service(settings, open_database(settings))
        )
        for line in describe_configuration(settings):
            log.info(line)
        try:
            yield
        finally:
            if owned:
                app.state.service.ctx.db.dispose()

    app = FastAPI(title="rpm-logger", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database answers, 503 when it does not."""
        db = request.app.state.service.ctx.db
        healthy = await run_in_threadpool(db.ping)
        return JSONResponse({"database": "ok" if healthy else "unavailable"},
                            status_code=200 if healthy else 503)

    if not settings.slack_configured:
        @app.post("/slack/events", include_in_schema=False)
        async def slack_not_configured() -> JSONResponse:
            return _not_configured("Slack", "set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")

    if settings.twilio_configured:
        from telephony.routes import make_router

        app.include_router(make_router(settings))
    else:
        @app.post("/twilio/{path:path}", include_in_schema=False)
        async def twilio_not_configured(path: str) -> JSONResponse:
            return _not_configured("Twilio", "set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                                   "PUBLIC_BASE_URL")

    return app
