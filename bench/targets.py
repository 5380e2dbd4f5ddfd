"""The ASGI apps the HTTP benchmarks serve, each built the way `serve` builds ours.

`app` is the real rpm-logger app from the environment's settings. The two bare apps are the
yardsticks the issue names: a slack-bolt app that only acks (signature check included, as
Bolt does it), and a bare ASGI endpoint that answers every POST with `<Response/>`.
"""

import os
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BENCH_SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
BENCH_BOT_TOKEN = "xoxb-bench"


def real_app() -> Any:
    from rpm_logger.app import create_app

    return create_app()


def bare_slack() -> Any:
    """Bolt with request verification and an ack-only /rpm listener; its one auth.test
    goes to the same stand-in Slack API as the real app's (SLACK_API_URL)."""
    client = AsyncWebClient(token=BENCH_BOT_TOKEN, base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(signing_secret=BENCH_SIGNING_SECRET, client=client)

    @bolt.command("/rpm")
    async def _ack(ack: Any) -> None:
        await ack("ok")

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def bare_twilio(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body (as any endpoint must) and answers `<Response/>`."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/xml")]})
    await send({"type": "http.response.body", "body": _TWIML})


def service_app() -> Any:
    """The service as `rpm-logger serve` runs it (its log format and level, the app's access
    lines), for a uvicorn with several worker processes (`bench.serve_target`)."""
    from configuration.settings import Settings
    from observability import logs
    from rpm_logger.app import create_app

    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings, settle_gc=True)


def least_app() -> Any:
    """bench.least: the least a correct implementation (issue 25)."""
    from bench.least import app

    return app()


TARGETS = {"app": real_app, "least": least_app, "service": service_app,
           "bare-slack": bare_slack, "bare-twilio": lambda: bare_twilio}
