"""The `/rpm` slash command: parse with the one grammar, run off the event loop, reply
ephemerally within Slack's 3-second budget; a command answered "Saving…" is journaled first
(bot/journal.py) with the key its log is saved under."""

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import dispatch, grammar
from bot.journal import CommandJournal, JournaledCommand, SavingPromise, new_key
from bot.listeners.budget import (
    ACK_DEADLINE_SECONDS,
    ANSWERED,
    ARRIVED,
    SAVING,
    reply_within_budget,
    stamp_arrival,
)
from observability.metrics import Metrics
from presentation import blocks
from service import Service
from service.audit_packets import PacketNotice

log = logging.getLogger("rpm_logger.bot")

T = TypeVar("T")
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
    service = context["service"]
    asked = JournaledCommand(new_key(), service.ctx.now(), command.get("user_id", ""),
                             command.get("channel_id", ""), command.get("text") or "",
                             command.get("response_url") or "")
    parsed = grammar.parse(asked.text)
    name = await _display_name(client, parsed.user) if isinstance(
        parsed, grammar.StaffAdd) else None
    caller = dispatch.Caller(asked.user_id, asked.channel_id, name, context.get("dialer"),
                             key=asked.key, notifier=context.get("admin_dms"))
    metrics: Metrics = context["metrics"]
    counted = partial(metrics.slack_command, grammar.kind(parsed))
    if isinstance(parsed, grammar.Report):
        await send_report(ack, respond, client, service, parsed, caller,
                          context.get(ARRIVED), counted)
        return
    if isinstance(parsed, grammar.Packet):
        await send_packet_link(ack, respond, client, service, parsed, caller,
                               context.get("dashboard_url"), context.get(ARRIVED), counted)
        return
    journal: CommandJournal | None = context.get("journal")
    promise = SavingPromise(journal, replace(asked, display_name=name)) if journal else None
    await reply_within_budget(lambda: dispatch.run(service, parsed, caller), ack, respond,
                              arrived_at=context.get(ARRIVED), promise=promise,
                              counted=counted)


REFUSAL_SECONDS = 1.0  # how long the ack waits for a DM work's refusal (Slack allows 3 s)


async def _to_dm(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                 user_id: str, working: blocks.Reply, work: Callable[[], T | blocks.Reply],
                 send: Callable[[str, T], Awaitable[object]],
                 sent: Callable[[T], blocks.Reply], failed: Callable[[T], blocks.Reply],
                 arrived_at: float | None, counted: Callable[[str], None]) -> None:
    """Run `work` off the loop; a refusal ready within REFUSAL_SECONDS (a non-admin, an
    unknown patient: the work's first check) is the ack itself, never after a "working" ack
    (clinic finding, issue 26 item 12). Otherwise ack with `working`, `send` the result to
    the caller's DM, then replace the ack with `sent` (or `failed` when Slack refused the DM,
    or `work`'s own later refusal)."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    left = ACK_DEADLINE_SECONDS - (time.monotonic() - arrived_at) if arrived_at else 0.0
    done, _ = await asyncio.wait({task}, timeout=max(0.0, min(REFUSAL_SECONDS, left)))
    early = task.result() if done else None
    if isinstance(early, blocks.Reply):
        counted(ANSWERED)
        await ack(**early.as_kwargs())
        return
    counted(SAVING)
    await ack(**working.as_kwargs())
    result = await task
    if isinstance(result, blocks.Reply):
        reply = result
    else:
        try:
            opened = await client.conversations_open(users=user_id)
            await send(opened["channel"]["id"], result)
            reply = sent(result)
        except Exception:  # noqa: BLE001 - say so in Slack; the CLI still has it
            log.exception("sending to the DM failed")
            reply = failed(result)
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)


async def send_report(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                      service: Service, parsed: grammar.Report, caller: dispatch.Caller,
                      arrived_at: float | None, counted: Callable[[str], None]) -> None:
    """Ack at once (a month's CSV may take a while), upload the CSV to the admin's DM with
    files_upload_v2, then replace the ack with the month's totals."""
    async def upload(channel: str, result: dispatch.ReportFile) -> object:
        return await client.files_upload_v2(
            channel=channel, content=result.content, filename=result.filename,
            title=result.filename, initial_comment=blocks.totals_text(result.totals))

    await _to_dm(ack, respond, client, caller.user_id, blocks.report_working_reply(),
                 lambda: dispatch.report(service, parsed, caller), upload,
                 lambda r: blocks.report_sent_reply(r.totals, r.filename),
                 lambda r: blocks.report_upload_failed_reply(r.totals), arrived_at, counted)


async def send_packet_link(ack: AsyncAck, respond: AsyncRespond, client: AsyncWebClient,
                           service: Service, parsed: grammar.Packet, caller: dispatch.Caller,
                           dashboard_url: str | None, arrived_at: float | None,
                           counted: Callable[[str], None]) -> None:
    """DM the admin the packet's dashboard link (never the packet: Slack carries clinic id,
    initials, month and codes only) and replace the ack with where it went."""
    async def post(channel: str, notice: PacketNotice) -> object:
        return await client.chat_postMessage(
            channel=channel, **blocks.packet_link_dm(notice, dashboard_url).as_kwargs())

    await _to_dm(ack, respond, client, caller.user_id, blocks.packet_working_reply(),
                 lambda: dispatch.packet_notice(service, parsed, caller), post,
                 blocks.packet_sent_reply, blocks.packet_dm_failed_reply, arrived_at, counted)


def register(app: AsyncApp) -> None:
    app.command("/rpm", middleware=[stamp_arrival])(handle_rpm)
