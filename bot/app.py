"""Builds the slack-bolt AsyncApp: signed requests only, every outbound call through
SLACK_API_URL (including Bolt's first-request `auth.test`), listeners in bot/listeners."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from rpm_logger.settings import Settings
from service import Service

log = logging.getLogger("rpm_logger.bot")


def build_slack_app(settings: Settings, service: Service) -> AsyncApp:
    """The Bolt app. Request verification stays on (Bolt's default): a missing, wrong or
    older-than-5-minutes signature gets 401 before any listener runs."""
    if not (settings.slack_signing_secret and settings.slack_bot_token):
        raise ValueError("Slack needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url, timeout=10)
    # like rpm_logger.slack_client: retry 429 (honouring Retry-After) and 5xx, off by default
    client.retry_handlers.extend([AsyncRateLimitErrorRetryHandler(max_retry_count=2),
                                  AsyncServerErrorRetryHandler(max_retry_count=2)])
    app = AsyncApp(
        client=client,
        authorize=_bot_authorization(settings.slack_bot_token.get_secret_value()),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        request_verification_enabled=True,
        # a long-running server: ack first, finish slow work and `respond` afterwards
        process_before_response=False,
        logger=log,
    )

    @app.middleware
    async def _inject_service(context: AsyncBoltContext,
                              next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002
        context["service"] = service  # listeners read it as context["service"]
        context["settings"] = settings  # click-to-call reaches Twilio with these
        await next()

    listeners.register(app)
    return app


def _bot_authorization(token: str) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Bolt's single-workspace authorization, minus its one failure mode that loses work.

    Bolt calls `auth.test` on the first request; if Slack's Web API is unreachable then, it
    raises and the slash command gets a 500 (nothing saved, Slack shows an error). A command
    is answered in the HTTP response and needs no Web API, so here an unreachable
    `auth.test` is logged and the request goes on with the bot token alone; the identity is
    asked for again next time, and kept once Slack answers. (Bolt passes arguments by name.)
    """
    known: list[AuthorizeResult] = []

    async def authorize(client: AsyncWebClient, enterprise_id: str | None,
                        team_id: str | None, user_id: str | None) -> AuthorizeResult:
        if known:
            return known[0]
        try:
            response = await client.auth_test(token=token)
        except SlackApiError:
            raise  # a wrong or revoked token: Bolt tells the user, as it always did
        except Exception as exc:  # noqa: BLE001 - the Web API is down, not the token
            log.warning("Slack auth.test unreachable (%s); answering without it",
                        type(exc).__name__)
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                                   bot_token=token, user_id=user_id)
        known.append(AuthorizeResult.from_auth_test_response(
            bot_token=token, auth_test_response=response))
        return known[0]

    return authorize


class SlackRuntime:
    """The Bolt app as the ASGI app runs it: the HTTP handler for /slack/events, plus a
    Socket Mode connection when SLACK_APP_TOKEN is set (for clinics without a public URL)."""

    def __init__(self, bolt: AsyncApp, socket: AsyncSocketModeHandler | None) -> None:
        self.bolt = bolt
        self.http = AsyncSlackRequestHandler(bolt)
        self.socket = socket
        self._connecting: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, service: Service) -> "SlackRuntime":
        bolt = build_slack_app(settings, service)
        socket = None
        if settings.slack_app_token:
            # apps.connections.open goes through the app's client, so SLACK_API_URL too
            socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        runtime = cls(bolt, socket)
        if socket is not None:
            # connect() retries until Slack answers: never hold up start-up waiting for it
            runtime._connecting = asyncio.ensure_future(socket.connect_async())
        return runtime

    async def stop(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
