"""The one way to build an outbound Slack Web API client for background senders.

SLACK_API_URL is the base of every call (tests point it at a loopback recorder); retries on
429 (honouring Retry-After) and 5xx are on, which slack_sdk leaves off by default.
"""

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from rpm_logger.settings import Settings


def make_web_client(settings: Settings, *, max_retries: int = 3) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=10)
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=1),
    ])
    return client
