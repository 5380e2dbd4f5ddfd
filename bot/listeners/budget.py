"""Slack's 3-second budget: run blocking work off the loop, answer in the ack when it is
quick, else ack "saving…" and deliver the real reply through response_url when done."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot import views
from bot.views import Reply

ACK_BUDGET_SECONDS = 2.0


async def reply_within_budget(work: Callable[[], Reply], ack: Callable[..., Awaitable[Any]],
                              respond: Callable[..., Awaitable[Any]]) -> Reply:
    task = asyncio.ensure_future(asyncio.to_thread(work))
    done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
    if done:
        reply = task.result()
        await ack(**reply.as_kwargs())
        return reply
    await ack(**views.working_reply().as_kwargs())
    reply = await task  # the thread keeps going; nothing is cancelled mid-write
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)
    return reply
