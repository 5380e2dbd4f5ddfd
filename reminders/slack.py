"""Delivers planned reminders through the real slack_sdk WebClient (configuration.slack_client).

DMs: `conversations.open` for the staff member, then `chat.postMessage` with Block Kit, a
plain `text` fallback and the claim id as message metadata. Before a claim that may already
have gone out is resent, `conversations.history` (with `include_all_metadata`) is searched
for that claim id. Posts to one channel are paced (Slack allows about 1 message per second per
channel); 429 with Retry-After and 5xx are retried by the client's retry handlers.

Needed bot scopes: chat:write, im:write, im:history (and channels:history or groups:history
for REMINDER_CHANNEL, with the bot invited to it).
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from configuration.settings import Settings
from configuration.slack_client import make_web_client, ts_in_history
from presentation import blocks
from reminders import messages
from service.reminders import DM, Delivery, DeliveryFailed, PlannedMessage

EVENT_TYPE = "rpm_reminder"
PACE_SECONDS = 1.1  # a little over Slack's 1 message per second per channel
HISTORY_PAGES = 5
HISTORY_MARGIN = timedelta(minutes=5)  # clocks differ; look a little before the claim


class SlackReminderSender:
    def __init__(self, client: WebClient, *, pace_seconds: float = PACE_SECONDS,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.pace_seconds = pace_seconds
        self._sleep, self._monotonic = sleep, monotonic
        self._last_post: dict[str, float] = {}
        self._dm_channels: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings,
                      errors: Callable[[str], None] | None = None) -> "SlackReminderSender":
        """`errors`: told the Web API method of each failed attempt (the app counts them)."""
        return cls(make_web_client(settings, errors=errors))

    def deliver(self, message: PlannedMessage, claim_id: str) -> Delivery:
        channel = self._channel(message)
        self._pace(channel)
        response = self._call("chat.postMessage", lambda: self.client.chat_postMessage(
            channel=channel, text=messages.text(message), blocks=blocks.reminder_blocks(message),
            metadata={"event_type": EVENT_TYPE,
                      "event_payload": {"claim_id": claim_id, "date": message.day.isoformat()}},
            unfurl_links=False, unfurl_media=False))
        return Delivery(str(response.get("channel") or channel), str(response["ts"]))

    def find_delivered(self, message: PlannedMessage, claim_id: str,
                       since: datetime) -> Delivery | None:
        """The message carrying `claim_id` in the conversation since the claim was first made."""
        channel = self._channel(message)
        oldest = f"{(since - HISTORY_MARGIN).timestamp():.6f}"

        def page(cursor: str | None) -> Any:
            return self._call("conversations.history", partial(
                self.client.conversations_history, channel=channel, oldest=oldest,
                include_all_metadata=True, limit=100, cursor=cursor))

        try:
            ts = ts_in_history(page, EVENT_TYPE, claim_id, HISTORY_PAGES)
        except LookupError as exc:
            raise DeliveryFailed(str(exc)) from exc
        return Delivery(channel, ts) if ts is not None else None

    def _channel(self, message: PlannedMessage) -> str:
        if message.kind != DM:
            return message.recipient
        if message.recipient not in self._dm_channels:
            opened = self._call("conversations.open", lambda: self.client.conversations_open(
                users=message.recipient))
            self._dm_channels[message.recipient] = str(opened["channel"]["id"])
        return self._dm_channels[message.recipient]

    def _pace(self, channel: str) -> None:
        """Wait until `pace_seconds` have passed since the last post to `channel`."""
        with self._lock:
            last = self._last_post.get(channel)
            if last is not None:
                wait = last + self.pace_seconds - self._monotonic()
                if wait > 0:
                    self._sleep(wait)
            self._last_post[channel] = self._monotonic()

    @staticmethod
    def _call(method: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except SlackApiError as exc:
            raise DeliveryFailed(f"slack {method}: {exc.response.get('error', 'error')}") from exc
        except (SlackClientError, OSError) as exc:
            raise DeliveryFailed(f"slack {method} unreachable: {type(exc).__name__}") from exc
