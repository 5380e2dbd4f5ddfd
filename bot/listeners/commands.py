"""The `/rpm` slash command: parse with the one grammar, run off the event loop, reply
ephemerally within Slack's 3-second budget."""

import asyncio
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import execute, grammar
from bot.listeners.budget import reply_within_budget

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
    caller = execute.Caller(command.get("user_id", ""), command.get("channel_id", ""), name)
    service = context["service"]
    await reply_within_budget(lambda: execute.run(service, parsed, caller), ack, respond)


def register(app: AsyncApp) -> None:
    app.command("/rpm")(handle_rpm)
