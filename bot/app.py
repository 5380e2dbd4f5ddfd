"""Builds the slack-bolt AsyncApp: signed requests only, every outbound call through
SLACK_API_URL (including Bolt's first-request `auth.test`), listeners in bot/listeners."""

import logging

from slack_bolt.async_app import AsyncApp
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
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        request_verification_enabled=True,
        # a long-running server: ack first, finish slow work and `respond` afterwards
        process_before_response=False,
        logger=log,
    )

    @app.middleware
    async def _inject_service(context, next):  # type: ignore[no-untyped-def]
        context["service"] = service
        await next()

    listeners.register(app)
    return app
