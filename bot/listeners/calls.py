"""The call DM's buttons (presentation/blocks.py): Yes / No answer "was this a live
conversation?", Add note opens a modal whose submission keeps the note on the call."""

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import dispatch
from presentation import blocks
from presentation.blocks import ADD_NOTE_ACTION, CONFIRM_LIVE_ACTION, REJECT_LIVE_ACTION, Reply


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def confirm_call(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                       respond: AsyncRespond, context: dict[str, Any]) -> None:
    """Yes counts the call, No keeps it as an attempt; the DM then shows the outcome. A
    refusal (not your call, already decided, database down) comes as a separate ephemeral
    note, so the buttons stay for whoever may still answer."""
    await ack()
    live = action.get("action_id") == CONFIRM_LIVE_ACTION
    caller = dispatch.Caller(_user(body), "")
    reply, decided = await asyncio.to_thread(dispatch.confirm_call, context["service"], caller,
                                             str(action.get("value", "")), live=live)
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=decided)


async def open_note(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                    client: AsyncWebClient) -> None:
    """Open the modal at once (the trigger_id expires in 3 s); the submit checks who may."""
    await ack()
    await client.views_open(trigger_id=body["trigger_id"],
                            view=blocks.call_note_modal(str(action.get("value", ""))))


async def submit_note(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any],
                      client: AsyncWebClient, context: dict[str, Any]) -> None:
    """Save the note, then close the modal and confirm in the DM; a refusal stays in the
    modal under the input, so nothing typed is lost."""
    user = _user(body)
    values = (view.get("state") or {}).get("values") or {}
    note = ((values.get(blocks.CALL_NOTE_BLOCK) or {}).get(blocks.CALL_NOTE_INPUT) or {}).get(
        "value") or ""
    result = await asyncio.to_thread(dispatch.add_call_note, context["service"],
                                     dispatch.Caller(user, ""),
                                     str(view.get("private_metadata", "")), note)
    if isinstance(result, Reply):
        await ack(response_action="errors", errors={blocks.CALL_NOTE_BLOCK: result.text[:150]})
        return
    await ack()
    await client.chat_postMessage(channel=user, **blocks.call_noted_reply(result).as_kwargs())


def register(app: AsyncApp) -> None:
    app.action(CONFIRM_LIVE_ACTION)(confirm_call)
    app.action(REJECT_LIVE_ACTION)(confirm_call)
    app.action(ADD_NOTE_ACTION)(open_note)
    app.view(blocks.CALL_NOTE_CALLBACK)(submit_note)
