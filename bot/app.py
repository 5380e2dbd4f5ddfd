"""Builds the slack-bolt AsyncApp: signed requests only, every outbound call through
SLACK_API_URL (including Bolt's first-request `auth.test`), listeners in bot/listeners."""

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote_plus

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    to_action,
    to_command,
    to_event,
    to_message,
    to_options,
    to_shortcut,
    to_step,
    to_view,
)
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import listeners, replay
from bot.call_dms import SlackCallDMs
from bot.dispatch import Dialer
from bot.journal import CommandJournal
from bot.listeners import ack_runner, budget
from configuration.settings import Settings
from configuration.slack_client import make_async_web_client
from observability.metrics import Metrics
from service import Service

log = logging.getLogger("rpm_logger.bot")


def build_slack_app(settings: Settings, service: Service, dialer: Dialer | None = None,
                    journal: CommandJournal | None = None,
                    metrics: Metrics | None = None) -> AsyncApp:
    """The Bolt app. A missing, wrong or older-than-5-minutes signature gets 401 before any
    listener runs (SlackGate, in front of it on /slack/events). With `journal`, a command
    answered "Saving…" is journaled first (bot/journal.py). Commands and Web API errors are
    counted into `metrics` (the app's; a fresh one when none is given)."""
    if not (settings.slack_signing_secret and settings.slack_bot_token):
        raise ValueError("Slack needs SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN")
    metrics = metrics or Metrics()
    admin_dms = SlackCallDMs.from_settings(settings, metrics)  # the sync DM sender
    # SLACK_API_URL, timeout, 429/5xx retries
    client = make_async_web_client(settings, errors=metrics.slack_api_error)
    # `authorize` hands each request the bot token (Bolt builds the request's client from
    # it): a token on the app's client too made Bolt warn at every start that it is unused
    client.token = None
    with _quiet(log, _BOLT_TOKEN_NOTES):  # SLACK_BOT_TOKEN in the environment: read above
        app = AsyncApp(
            client=client,
            authorize=_bot_authorization(settings.slack_bot_token.get_secret_value()),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # SlackGate checks the signature of every HTTP request before Bolt sees it
            # (Socket Mode requests carry none): Bolt checking the same HMAC again only
            # cost CPU
            request_verification_enabled=False,
            # a long-running server: ack first, finish slow work and `respond` afterwards
            process_before_response=False,
            logger=log,
        )

    if settings.slack_team_id:  # first: nothing of ours runs for another workspace
        app.middleware(_only_team(settings.slack_team_id))

    @app.middleware
    async def _inject_service(context: AsyncBoltContext,
                              next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002
        context["service"] = service  # listeners read it as context["service"]
        context["dialer"] = dialer  # click-to-call (None: Twilio is not set up)
        context["admin_dms"] = admin_dms  # DMs to admins (offboarding's dropped timer)
        context["dashboard_url"] = settings.public_base_url  # links to the dashboard
        context["journal"] = journal  # commands answered "Saving…" (None: not journaled)
        context["metrics"] = metrics  # what the listeners count into
        await next()

    listeners.register(app)
    ack_runner.install(app)  # the ack answers at once, not at Bolt's next 10 ms poll
    return app


TEAM_REFUSAL = {"error": "not this clinic's Slack workspace"}


def from_another_team(request: AsyncBoltRequest, team_id: str | None) -> bool:
    """SLACK_TEAM_ID is set and the request comes from another workspace (Bolt's reading of
    its team: the payload's team, else its authorizations' or its user's), or names none.

    The signature proves only that Slack sent the request for this app, and an app can be
    installed in a second workspace (or org-wide), whose people are not the clinic's. Slack's
    own checks of the Request URL carry no team (url_verification, ssl_check) and pass, or
    Slack could not verify the URL. A refusal is one warning line: the team ids only."""
    if team_id is None or request.context.team_id == team_id:
        return False
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("type") == "url_verification" or body.get("ssl_check") == "1":
        return False
    log.warning("Slack request from team %s refused (403): SLACK_TEAM_ID is %s",
                request.context.team_id or "(none)", team_id)
    return True


def _only_team(team_id: str) -> Callable[..., Awaitable[BoltResponse | None]]:
    """The team check for Socket Mode, whose requests do not pass SlackGate (HTTP requests
    were refused there, before Bolt saw them): first of our middlewares, so no listener runs
    for another workspace."""

    async def only_team(request: AsyncBoltRequest,
                        next: Callable[[], Awaitable[None]]) -> BoltResponse | None:  # noqa: A002
        if from_another_team(request, team_id):
            return BoltResponse(status=403, body=TEAM_REFUSAL)
        await next()
        return None

    return only_team


# Bolt reads SLACK_BOT_TOKEN from the environment itself and warns that the app's client
# (or `authorize`) wins over it: true and nothing to act on, as the settings read the same
# variable into `authorize`. Only these two notes are dropped, only while the app is built.
_BOLT_TOKEN_NOTES = frozenset({warning_client_prioritized_and_token_skipped(),
                               warning_token_skipped()})


class _Without(logging.Filter):
    def __init__(self, messages: frozenset[str]) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


@contextmanager
def _quiet(logger: logging.Logger, messages: frozenset[str]) -> Iterator[None]:
    """`logger` without these exact messages for the duration."""
    dropped = _Without(messages)
    logger.addFilter(dropped)
    try:
        yield
    finally:
        logger.removeFilter(dropped)


def _bot_authorization(token: str) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Bolt's single-workspace authorization, minus its two failure modes.

    Bolt calls `auth.test` on the first request; if Slack's Web API is unreachable then, it
    raises and the slash command gets a 500 (nothing saved, Slack shows an error). A command
    is answered in the HTTP response and needs no Web API, so here an unreachable
    `auth.test` is logged and the request goes on with the bot token alone; the identity is
    asked for again next time, and kept once Slack answers. (Bolt passes arguments by name.)

    And after a restart every concurrent first request asked on its own (200 commands made
    140 calls, and Slack showed timeouts): one `auth.test` is in flight at a time, and every
    request that arrives meanwhile waits for its answer (single flight).
    """
    known: list[AuthorizeResult] = []
    in_flight: list[asyncio.Task[AuthorizeResult | None]] = []

    async def ask(client: AsyncWebClient) -> AuthorizeResult | None:
        """The identity, or None when the Web API is unreachable (a SlackApiError, a wrong
        or revoked token, propagates: Bolt tells the user, as it always did)."""
        try:
            response = await client.auth_test(token=token)
        except SlackApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - the Web API is down, not the token
            log.warning("Slack auth.test unreachable (%s); answering without it",
                        type(exc).__name__)
            return None
        known.append(AuthorizeResult.from_auth_test_response(
            bot_token=token, auth_test_response=response))
        return known[0]

    async def authorize(client: AsyncWebClient, enterprise_id: str | None,
                        team_id: str | None, user_id: str | None) -> AuthorizeResult:
        if known:
            return known[0]
        if not in_flight or in_flight[0].done():
            in_flight[:] = [asyncio.ensure_future(ask(client))]
        # shield: one waiter's cancelled request must not cancel the others' answer
        result = await asyncio.shield(in_flight[0])
        return result or AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                                         bot_token=token, user_id=user_id)

    return authorize


# What Slack sends: Unix seconds and "v0=" + 64 hex digits. Anything else is refused before
# a library parses it (int() of "abc" or 400 digits, compare_digest of non-ASCII text raise).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
MAX_AGE_SECONDS = 5 * 60  # Slack's replay window, as Bolt applies it


def _refused(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


class SlackGate:
    """The checks /slack/events makes before Bolt sees a request, so that no request,
    however malformed, gets a 500: headers of the wrong shape or a bad signature get 401
    (nothing parsed, nothing logged), a correctly signed body Bolt could not read gets 400,
    and one from another workspace than SLACK_TEAM_ID gets 403 (`from_another_team`).
    The HMAC is over the body's bytes: slack_sdk's verifier decodes them first and raises on
    invalid UTF-8. This is the one signature check of an HTTP request (Bolt's own verifier is
    off: it checked the same HMAC over the same bytes a second time), and the request it
    hands on is the one Bolt dispatches (the body is read and parsed once)."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time,
                 team_id: str | None = None) -> None:
        self._secret = signing_secret.encode()
        self._clock = clock
        self._team_id = team_id  # SLACK_TEAM_ID: another workspace's request gets 403

    async def refusal(self, request: Request) -> Response | None:
        """None when the request is signed and readable, else the response to send."""
        checked = await self.check(request)
        return checked if isinstance(checked, Response) else None

    async def check(self, request: Request) -> Response | AsyncBoltRequest:
        """The response refusing the request, or the Bolt request to dispatch."""
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
            return _refused(401, "invalid request")
        body = await request.body()
        if not self._signed(body, timestamp, signature):
            return _refused(401, "invalid request")
        bolt_request = _bolt_request(request, body)
        if bolt_request is None:
            return _refused(400, "unreadable request body")
        if from_another_team(bolt_request, self._team_id):
            return JSONResponse(TEAM_REFUSAL, status_code=403)
        return bolt_request

    def _signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Slack's v0 signature, within the replay window, compared in constant time."""
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)


def _bolt_request(request: Request, body: bytes) -> AsyncBoltRequest | None:
    """The request as Bolt reads it (what slack_bolt's Starlette adapter builds), or None
    when Bolt could not read it: bad UTF-8 or JSON, nested past the stack, not an object."""
    try:
        text = body.decode("utf-8")
        if _repeats_a_field(text):
            return None
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in request.scope["headers"]}
        bolt_request = AsyncBoltRequest(body=text, query=request.url.query, headers=headers)
    except (ValueError, RecursionError, KeyError, IndexError, TypeError, AttributeError):
        return None
    if not (isinstance(bolt_request.body, dict) and _bolt_can_read(bolt_request.body)):
        return None
    return bolt_request


def _repeats_a_field(text: str) -> bool:
    """A form body naming a field twice (`team_id=T0EVIL&team_id=T0CLINIC`): Slack never
    sends one, and readers that keep the first and the last value would disagree on whose
    request it is (an outside attacker passed the SLACK_TEAM_ID check that way). A JSON body
    (events) has its own keys, read once."""
    if text.lstrip().startswith("{"):
        return False
    # the names parse_qsl(text, keep_blank_values=True) reads, without decoding the values
    # (a third of its CPU: Bolt decodes the body once more anyway)
    names = [unquote_plus(pair.partition("=")[0]) for pair in text.split("&") if pair]
    return len(names) != len(set(names))


# Bolt indexes these without checking their type (its authorization reads event.type, the
# listener matchers view.type and each action's action_id): a signed payload Slack would
# not send, `"event": null` or a view without its type, raised in Bolt and answered 500.
_OBJECTS = ("event", "view", "team", "user", "enterprise", "channel", "container", "message",
            "workflow_step", "function_data", "bot_access_token")
_TYPED = ("event", "view")


def _shaped_as_slack_sends(payload: dict[str, Any]) -> bool:
    """The minimal shape of what Bolt reads before a listener runs."""
    if not isinstance(payload.get("type", ""), str):
        return False
    if any(payload.get(key) is not None and not isinstance(payload[key], dict)
           for key in _OBJECTS):
        return False
    if any(key in payload and not isinstance(payload[key], dict) for key in _TYPED):
        return False
    if any(key in payload and not isinstance(payload[key].get("type"), str) for key in _TYPED):
        return False
    for key in ("actions", "authorizations"):
        items = payload.get(key)
        if items is not None and not (isinstance(items, list)
                                      and all(isinstance(item, dict) for item in items)):
            return False
    return all(isinstance(action.get("action_id", ""), str)
               for action in payload.get("actions") or [])


def _bolt_can_read(payload: dict[str, Any]) -> bool:
    """Bolt's own reading of the payload (its context: team, user, enterprise...; the
    payload its listeners are given), done here so that a payload it cannot read is a 400
    rather than an exception inside Bolt's dispatch, which Bolt answers with a 500. Errors
    in our listeners are not concerned: they happen later, and are still logged as such."""
    try:
        if not _shaped_as_slack_sends(payload):
            return False
        for read in (to_options, to_shortcut, to_action, to_view, to_command, to_event,
                     to_message, to_step):
            read(payload)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return False
    return True


class SlackRuntime:
    """The Bolt app as the ASGI app runs it: the HTTP handler for /slack/events, plus a
    Socket Mode connection when SLACK_APP_TOKEN is set (for clinics without a public URL)."""

    def __init__(self, bolt: AsyncApp, socket: AsyncSocketModeHandler | None,
                 signing_secret: str, team_id: str | None = None,
                 journal: CommandJournal | None = None) -> None:
        self.bolt = bolt
        self.gate = SlackGate(signing_secret, team_id=team_id)
        self.socket = socket
        self.journal = journal
        self._connecting: asyncio.Task[None] | None = None
        self._replaying: asyncio.Task[None] | None = None

    async def handle(self, request: Request) -> Response:
        """/slack/events: the gate's refusal, or Bolt's answer to the request the gate read."""
        checked = await self.gate.check(request)
        if isinstance(checked, Response):
            return checked
        ack_runner.signalling_ack(checked)
        return to_starlette_response(await self.bolt.async_dispatch(checked))

    @classmethod
    async def start(cls, settings: Settings, service: Service, dialer: Dialer | None = None,
                    metrics: Metrics | None = None) -> "SlackRuntime":
        """The runtime, serving at once; what a killed run left in the journal is run and
        confirmed in the background (bot/replay.py). A journal folder that cannot be
        written stops the start (JournalUnavailable, with the setting to change). Counted
        into `metrics`: the commands, the backlog's depth, Slack's refusals."""
        metrics = metrics or Metrics()
        journal = await asyncio.to_thread(CommandJournal.open,
                                          settings.resolved_slack_journal_dir)
        bolt = build_slack_app(settings, service, dialer, journal, metrics)
        metrics.watch_slack_backlog(budget.backlog, budget.MAX_BACKLOG)
        socket = None
        if settings.slack_app_token:
            # apps.connections.open goes through the app's client, so SLACK_API_URL too
            socket = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
        assert settings.slack_signing_secret is not None  # build_slack_app checked it
        runtime = cls(bolt, socket, settings.slack_signing_secret.get_secret_value(),
                      settings.slack_team_id, journal)
        if socket is not None:
            # connect() retries until Slack answers: never hold up start-up waiting for it
            runtime._connecting = asyncio.ensure_future(socket.connect_async())
        runtime._replaying = asyncio.ensure_future(
            replay.replay(journal, service,
                          make_async_web_client(settings, errors=metrics.slack_api_error)))
        return runtime

    async def stop(self) -> None:
        await budget.finish_backlog()  # every "Saving…" ends saved or "not saved"
        if self._replaying is not None:
            # what is not replayed by then stays journaled for the next start
            await asyncio.wait({self._replaying}, timeout=budget.SHUTDOWN_GRACE_SECONDS)
            self._replaying.cancel()
        if self.socket is not None:
            await self.socket.close_async()
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self.journal is not None:
            await self.journal.close()
