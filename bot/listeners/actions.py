"""Buttons: the patient picker completing a log, Undo under a double-submission warning,
and the App Home's Start/Stop timer buttons."""

import asyncio
import json
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from billing.digits import DIGIT
from bot import dispatch, grammar
from bot.listeners.events import publish_home
from presentation import blocks
from presentation.blocks import Reply


def _caller(body: dict[str, Any]) -> dispatch.Caller:
    channel = (body.get("channel") or {}).get("id") or ""
    return dispatch.Caller((body.get("user") or {}).get("id", ""), channel)


async def _run(work: Any) -> Reply:
    return await asyncio.to_thread(work)


async def pick_patient(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                       respond: AsyncRespond, context: dict[str, Any]) -> None:
    """Complete the log the picker carried, for the chosen patient."""
    await ack()
    try:
        carried = json.loads(action.get("value") or "{}")
        text = f"log {carried['patient']} {carried['log']}"
    except (ValueError, KeyError, TypeError):
        text = ""
    parsed = grammar.parse(text) if text else grammar.Usage("That picker has expired.", "log")
    service = context["service"]
    reply = await _run(lambda: dispatch.run(service, parsed, _caller(body)))
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)


async def undo_double(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                      respond: AsyncRespond, context: dict[str, Any]) -> None:
    await ack()
    service = context["service"]
    reply = await _run(lambda: dispatch.undo_double(service, _caller(body),
                                                   str(action.get("value", ""))))
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=False)


async def home_button(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                      client: AsyncWebClient, context: dict[str, Any]) -> None:
    """Start/Stop on the App Home: do it, tell the user in the app's DM, refresh the tab
    (Start: the tab its use case read; Stop: read after the stop's two transactions)."""
    await ack()
    service = context["service"]
    caller = _caller(body)
    view: dict[str, object] | None = None
    if action.get("action_id") == blocks.HOME_START_ACTION:
        reply, view = await asyncio.to_thread(dispatch.home_start, service, caller,
                                              str(action.get("value", "")))
    else:
        reply = await _run(lambda: dispatch.home_stop(service, caller))
    await client.chat_postMessage(channel=caller.user_id, **reply.as_kwargs())
    if view is None:
        await publish_home(client, service, caller.user_id)
    else:
        await client.views_publish(user_id=caller.user_id, view=view)


async def confirm_close(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                        respond: AsyncRespond, context: dict[str, Any]) -> None:
    """The Confirm button under `/rpm month close`: close the month, replace the question."""
    await ack()
    service = context["service"]
    reply = await _run(lambda: dispatch.confirm_close(service, _caller(body),
                                                     str(action.get("value", ""))))
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)


async def confirm_reopen(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                         respond: AsyncRespond, context: dict[str, Any]) -> None:
    """One of the two buttons under `/rpm month reopen`: reopen, replace the question."""
    await ack()
    service = context["service"]
    billed = action.get("action_id") == blocks.REOPEN_BILLED_ACTION
    reply = await _run(lambda: dispatch.confirm_reopen(
        service, _caller(body), str(action.get("value", "")), billed=billed))
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)


def register(app: AsyncApp) -> None:
    app.action(re.compile(rf"^{blocks.PICK_ACTION}_{DIGIT}+$"))(pick_patient)
    app.action(blocks.UNDO_ACTION)(undo_double)
    app.action(blocks.CLOSE_MONTH_ACTION)(confirm_close)
    app.action(blocks.REOPEN_BILLED_ACTION)(confirm_reopen)
    app.action(blocks.REOPEN_NOT_BILLED_ACTION)(confirm_reopen)
    app.action(blocks.HOME_START_ACTION)(home_button)
    app.action(blocks.HOME_STOP_ACTION)(home_button)
