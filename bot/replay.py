"""The commands a killed server had answered "Saving…" (bot/journal.py), run and confirmed
by the next one, in the background from its start (readiness does not wait for them).

Each is run as it was typed: the same caller, channel and text, through the same dispatch
(bot/dispatch.py), under its journal key (a log already committed before the kill is found
by it and answered, never saved twice) and its typing time (a log ends then). Its reply goes
where the first run's would have: its response_url, through the same `confirm` the bot uses
after a "Saving…" (tried again when refused). Slack keeps a response_url 30 minutes (and five
uses); an older one, or one that refuses, gets the reply in the app's DM instead, saying it
comes after a restart. A command whose reply was journaled before the kill is not run again.

They run one after another in journal order, so one person's `start` then `stop` keep their
order; the replies go out side by side.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import dispatch, grammar
from bot.journal import CommandJournal, JournaledCommand
from bot.listeners.budget import confirm
from presentation import blocks
from presentation.blocks import Reply
from service import Service

log = logging.getLogger("rpm_logger.bot")

# Slack keeps a response_url for 30 minutes: past this, the reply goes to the DM
RESPONSE_URL_FOR = timedelta(minutes=29)


def _respond(response_url: str) -> Callable[..., Awaitable[Any]]:
    return AsyncRespond(response_url=response_url)


async def replay(journal: CommandJournal, service: Service, client: AsyncWebClient, *,
                 respond: Callable[[str], Callable[..., Awaitable[Any]]] = _respond) -> None:
    """Run and confirm every command the last run left; `respond(url)` posts to a
    response_url (Bolt's own `respond`), `client` sends the DMs."""
    commands = journal.pending()
    deliveries = []
    for command in commands:
        reply = command.reply
        if reply is None:
            reply = await asyncio.to_thread(rerun, service, command)
            journal.replied(command.key, reply)
        deliveries.append(asyncio.ensure_future(
            _deliver(journal, service, client, respond, command, reply)))
    if deliveries:
        await asyncio.gather(*deliveries)
        log.warning("slack journal: %d commands left by the last run were run and answered",
                    len(commands))


def rerun(svc: Service, command: JournaledCommand) -> Reply:
    """The command's reply, run as typed (never raises: dispatch.run's refusals and faults
    are replies). Click-to-call is never dialled again minutes later."""
    parsed = grammar.parse(command.text)
    if isinstance(parsed, grammar.CallPatient):
        return blocks.call_not_replayed_reply(parsed.patient)
    caller = dispatch.Caller(command.user_id, command.channel_id, command.display_name,
                             key=command.key, asked_at=command.at)
    return dispatch.run(svc, parsed, caller)


async def _deliver(journal: CommandJournal, svc: Service, client: AsyncWebClient,
                   respond: Callable[[str], Callable[..., Awaitable[Any]]],
                   command: JournaledCommand, reply: Reply) -> None:
    fresh = svc.ctx.now() - command.at < RESPONSE_URL_FOR
    if not (fresh and command.response_url and
            await confirm(respond(command.response_url), reply)):
        await _to_dm(client, command, blocks.after_restart_dm(reply, command.at,
                                                              svc.ctx.policy.zone))
    journal.done(command.key)


async def _to_dm(client: AsyncWebClient, command: JournaledCommand, reply: Reply) -> None:
    """The reply in the app's DM with the person (what `/rpm report` uses); a failure is
    logged without the reply (what was saved stays saved)."""
    try:
        opened = await client.conversations_open(users=command.user_id)
        await client.chat_postMessage(channel=opened["channel"]["id"], **reply.as_kwargs())
    except Exception as exc:  # noqa: BLE001 - logged, never raised into the start-up
        log.error("the reply to a command replayed after a restart reached neither its "
                  "response_url nor the DM (%s); what was saved stays saved",
                  type(exc).__name__)
