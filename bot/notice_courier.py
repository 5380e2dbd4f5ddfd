"""Delivers the call DMs queued in the outbox (service/notices.py), off the request path.

One courier per process; only the scheduler leader's rounds do anything (store/leadership.py),
and the claims keep a DM to one sender whatever runs. A round runs when a status callback of
this process queued a DM (`wake`), else every `poll_s` (a DM another process queued waits at
most that long for the leader).

The service's delivery runs in the courier's own thread (never one a request needs) and calls
this module's `SlackNotices`, whose Slack calls go through one AsyncWebClient on the event
loop with a kept-alive connection pool (aiohttp): no new session, TLS handshake or
`conversations.open` per DM, as the per-call sync client did (~29 % of the CPU of a Twilio
callback, issue 25).

Needed bot scopes: chat:write, im:write, im:history (to find a DM sent just before a crash).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from configuration.instance import instance_name
from configuration.settings import Settings
from configuration.slack_client import TIMEOUT_SECONDS, make_async_web_client, ts_in_history
from observability.metrics import Metrics
from presentation import blocks
from service import Service
from service.call_notices import ASK_IF_LIVE
from service.notices import HeldNotice
from service.reminders import Delivery, DeliveryFailed

log = logging.getLogger("rpm_logger.notices")

EVENT_TYPE = "rpm_call_dm"
POLL_SECONDS = 2.0
HISTORY_PAGES = 3
HISTORY_MARGIN = timedelta(minutes=5)  # clocks differ; look a little before the claim
T = TypeVar("T")


class SlackNotices:
    """The NoticeSender: sync methods (the service calls them from the courier's thread)
    that run their Slack calls on the event loop's pooled client."""

    def __init__(self, client: AsyncWebClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self._dm_channels: dict[str, str] = {}  # Slack user id -> the bot's DM with them

    def deliver(self, notice: HeldNotice) -> Delivery:
        reply = (blocks.call_unconfirmed_dm(notice.call) if notice.kind == ASK_IF_LIVE
                 else blocks.call_counted_dm(notice.call))
        channel = self._channel(notice.recipient)
        response = self._call("chat.postMessage", lambda: self.client.chat_postMessage(
            channel=channel, text=reply.text, blocks=reply.blocks,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"claim_id": notice.claim_id}},
            unfurl_links=False, unfurl_media=False))
        return Delivery(str(response.get("channel") or channel), str(response["ts"]))

    def find_delivered(self, notice: HeldNotice) -> Delivery | None:
        """The DM carrying the notice's claim id since it was first claimed, if any."""
        channel = self._channel(notice.recipient)
        oldest = f"{(notice.first_claimed_at - HISTORY_MARGIN).timestamp():.6f}"

        def page(cursor: str | None) -> Any:
            return self._call("conversations.history", lambda: self.client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=100,
                cursor=cursor))

        try:
            ts = ts_in_history(page, EVENT_TYPE, notice.claim_id, HISTORY_PAGES)
        except LookupError as exc:
            raise DeliveryFailed(str(exc)) from exc
        return Delivery(channel, ts) if ts is not None else None

    def _channel(self, user: str) -> str:
        if user not in self._dm_channels:
            opened = self._call("conversations.open",
                                lambda: self.client.conversations_open(users=user))
            self._dm_channels[user] = str(opened["channel"]["id"])
        return self._dm_channels[user]

    def _call(self, method: str, call: Callable[[], Awaitable[Any]]) -> Any:
        async def run() -> Any:
            return await call()

        try:
            return asyncio.run_coroutine_threadsafe(run(), self.loop).result(
                timeout=TIMEOUT_SECONDS * 4)
        except SlackApiError as exc:
            raise DeliveryFailed(f"slack {method}: {exc.response.get('error', 'error')}") from exc
        except (SlackClientError, OSError, TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryFailed(f"slack {method} unreachable: {type(exc).__name__}") from exc


class NoticeCourier:
    def __init__(self, service: Service, settings: Settings, leading: Callable[[], bool],
                 metrics: Metrics | None = None, poll_s: float = POLL_SECONDS) -> None:
        self.service = service
        self.settings = settings
        self._leading = leading
        self._metrics = metrics
        self.poll_s = poll_s
        self.actor = f"notices@{instance_name()}"
        self._wake = asyncio.Event()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rpm-notices")
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.rounds = 0  # finished rounds (tests wait on it)

    def start(self) -> None:
        """On the running event loop (the lifespan's)."""
        loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession()
        errors = self._metrics.slack_api_error if self._metrics is not None else None
        client = make_async_web_client(self.settings, errors=errors, session=self._session)
        self.sender = SlackNotices(client, loop)
        self._task = loop.create_task(self._run())

    def wake(self) -> None:
        """A DM was queued here: deliver now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop after the round in progress (its claims are marked, or taken over later)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await asyncio.shield(loop.run_in_executor(self._thread, self._round))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("call DM round failed")
            self.rounds += 1

    def _round(self) -> None:
        if not self._leading():
            return
        for outcome, count in self.service.notices.deliver_due(self.sender,
                                                               self.actor).items():
            if self._metrics is not None:
                self._metrics.call_dm(outcome, count)
