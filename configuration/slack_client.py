"""The one place Slack Web API clients are made, sync (background senders: reminders, call
DMs) and async (the Bolt app), from the same settings.

SLACK_API_URL is the base of every call (tests point it at a loopback recorder); a 10-second
timeout; retries on 429 (honouring Retry-After) and 5xx are on, which slack_sdk leaves off by
default. The sync senders also retry once on a dropped connection (a resend they check for);
the bot's replies do not (Slack's 3-second budget).
"""

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from configuration.settings import Settings

TIMEOUT_SECONDS = 10


def _token(settings: Settings) -> str | None:
    return settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None


def make_web_client(settings: Settings, *, max_retries: int = 3) -> WebClient:
    """For code that runs off the event loop (reminders, call DMs)."""
    client = WebClient(token=_token(settings), base_url=settings.slack_api_url,
                       timeout=TIMEOUT_SECONDS)
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=1),
    ])
    return client


def make_async_web_client(settings: Settings, *, max_retries: int = 2) -> AsyncWebClient:
    """For the Bolt app (bot/app.py): its listeners' calls and Bolt's own (`auth.test`)."""
    client = AsyncWebClient(token=_token(settings), base_url=settings.slack_api_url,
                            timeout=TIMEOUT_SECONDS)
    client.retry_handlers.extend([AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
                                  AsyncServerErrorRetryHandler(max_retry_count=max_retries)])
    return client
