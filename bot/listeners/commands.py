"""The `/rpm` slash command: parse with the one grammar, run off the event loop, reply
ephemerally within Slack's 3-second budget."""

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import dispatch, grammar
from bot.listeners.budget import ARRIVED, reply_within_budget, stamp_arrival
from rpm_logger import blocks
from service import Service

log = logging.getLogger("rpm_logger.bot")

_MENTION_LABEL = re.compile(r"<@[A-Za-z0-9]+\|([^>]+)>")


async def _display_name(client: AsyncWebClient, mention: str) -> str | None:
    """The new staff member's name: the mention's label, else their Slack profile."""
    label = _MENTION_LABEL.fullmatch(mention.strip())
    if label:
        return label.group(1)
    user_id = mention.strip().strip("<>@").split("|")[0]
    try:
        # at most a second of the 3-second budget: the id serves as the name otherwise
        info = await asyncio.wait_for(client.users_info(user=user_id), timeout=1.0)
        profile = info.get("user") or {}
        return profile.get("real_name") or profile.get("name")
    except Exception:  # noqa: BLE001 - the id serves as the name until the CLI renames
        return None


async def handle_rpm(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond,
                     client: AsyncWebClient, context: dict[str, Any]) -> None:
    parsed = grammar.parse(command.get("text"))
    name = await _display_name(client, parsed.user) if isinstance(
        parsed, grammar.StaffAdd) else None
    caller = dispatch.Caller(command.get("user_id", ""), command.get("channel_id", ""), name,
                            context.get("dialer"))
    service = context["service"]
    if isinstance(parsed, grammar.Report):
        await send_report(ack, respond, client, service, parsed, caller)
        return
    await reply_within_budget(lambda: dispatch.run(service, parsed, caller), ack, respond,
                              arrived_at=context.get(ARRIVED))


async def send_report(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                      service: Service, parsed: grammar.Report, caller: dispatch.Caller) -> None:
    """Ack at once (a month's CSV may take a while), upload the CSV to the admin's DM with
    files_upload_v2, then replace the ack with the month's totals."""
    await ack(**blocks.report_working_reply().as_kwargs())
    result = await asyncio.to_thread(dispatch.report, service, parsed, caller)
    if isinstance(result, blocks.Reply):
        await respond(**result.as_kwargs(), response_type="ephemeral", replace_original=True)
        return
    try:
        opened = await client.conversations_open(users=caller.user_id)
        await client.files_upload_v2(
            channel=opened["channel"]["id"], content=result.content, filename=result.filename,
            title=result.filename, initial_comment=blocks.totals_text(result.totals))
        reply = blocks.report_sent_reply(result.totals, result.filename)
    except Exception:  # noqa: BLE001 - say so in Slack; the CLI still has the report
        log.exception("report upload failed")
        reply = blocks.report_upload_failed_reply(result.totals)
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)


def register(app: AsyncApp) -> None:
    app.command("/rpm", middleware=[stamp_arrival])(handle_rpm)
