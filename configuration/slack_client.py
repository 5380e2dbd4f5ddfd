"""The one place Slack Web API clients are made, sync (background senders: reminders, call
DMs) and async (the Bolt app), from the same settings.

SLACK_API_URL is the base of every call (tests point it at a loopback recorder); a 10-second
timeout; retries on 429 (honouring Retry-After) and 5xx are on, which slack_sdk leaves off by
default. The sync senders also retry once on a dropped connection (a resend they check for);
the bot's replies do not (Slack's 3-second budget).

`errors`, when given, is told the Web API method of every attempt that failed (unreachable,
an HTTP error status, or Slack's `ok: false`): the app counts them
(rpm_slack_api_errors_total). It is told through a retry handler that never retries: the
one hook slack_sdk calls with every response, and one Bolt copies onto the client it makes
for each request.
"""

import re
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk import WebClient
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from configuration.settings import Settings

TIMEOUT_SECONDS = 10
_METHOD = re.compile(r"/api/([A-Za-z0-9_.]+)")
Errors = Callable[[str], None]


def _failed_method(request: Any, response: Any, error: Exception | None) -> str | None:
    """The Web API method of a failed attempt ("chat.postMessage"), else None."""
    body = getattr(response, "body", None)
    refused = response is not None and (response.status_code >= 400 or (
        isinstance(body, dict) and body.get("ok") is False))
    if error is None and not refused:
        return None
    method = _METHOD.search(getattr(request, "url", "") or "")
    return method.group(1) if method else "other"


class _CountErrors(RetryHandler):
    """Tells `errors` of each failed attempt; never asks for a retry (the others decide)."""

    def __init__(self, errors: Errors) -> None:
        super().__init__()
        self.errors = errors

    def can_retry(self, *, state: Any, request: Any, response: Any = None,
                  error: Exception | None = None) -> bool:
        method = _failed_method(request, response, error)
        if method is not None:
            self.errors(method)
        return False


class _CountErrorsAsync(AsyncRetryHandler):
    def __init__(self, errors: Errors) -> None:
        super().__init__()
        self.errors = errors

    async def can_retry_async(self, *, state: Any, request: Any, response: Any = None,
                              error: Exception | None = None) -> bool:
        method = _failed_method(request, response, error)
        if method is not None:
            self.errors(method)
        return False


def _token(settings: Settings) -> str | None:
    return settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None


def make_web_client(settings: Settings, *, max_retries: int = 3,
                    errors: Errors | None = None) -> WebClient:
    """For code that runs off the event loop (reminders, call DMs)."""
    client = WebClient(token=_token(settings), base_url=settings.slack_api_url,
                       timeout=TIMEOUT_SECONDS)
    if errors is not None:  # first: it sees every attempt, whoever retries it
        client.retry_handlers.insert(0, _CountErrors(errors))
    client.retry_handlers.extend([
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=1),
    ])
    return client


def make_async_web_client(settings: Settings, *, max_retries: int = 2,
                          errors: Errors | None = None,
                          session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """For the Bolt app (bot/app.py): its listeners' calls and Bolt's own (`auth.test`);
    with a `session`, its connections are kept and reused (the call DMs' courier)."""
    client = AsyncWebClient(token=_token(settings), base_url=settings.slack_api_url,
                            timeout=TIMEOUT_SECONDS, session=session)
    if errors is not None:
        client.retry_handlers.insert(0, _CountErrorsAsync(errors))
    client.retry_handlers.extend([AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
                                  AsyncServerErrorRetryHandler(max_retry_count=max_retries)])
    return client


def ts_in_history(page: Callable[[str | None], Any], event_type: str, claim_id: str,
                  pages: int) -> str | None:
    """The ts of the message sent under `claim_id` (its metadata's event type and claim id)
    in a conversation's history, read by `page(cursor)` (`conversations.history` from the
    claim's first moment, with `include_all_metadata`), or None when the history ends
    without it. LookupError after `pages` pages: unsure, so the caller must not resend.
    Used by the reminders and the call DMs (a message Slack accepted just before a crash)."""
    cursor: str | None = None
    for _ in range(pages):
        found = page(cursor)
        for item in found.get("messages") or []:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == event_type and payload.get("claim_id") == claim_id:
                return str(item["ts"])
        cursor = (found.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return None
    raise LookupError(f"claim {claim_id} not found in {pages} pages of history")
