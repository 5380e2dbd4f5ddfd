"""Slack's 3-second budget: run blocking work off the loop, answer in the ack when it is
quick, else ack "saving…" and deliver the real reply through response_url when done.

Why the deadline counts from arrival, not from when this coroutine runs: with
`process_before_response=False`, Bolt starts its 3-second clock, schedules the listener as a
task and polls every 10 ms for the ack; if none is set after 3 s it logs "handle_rpm didn't
call ack()" and Slack gets an empty 200. Under load (hundreds of requests, a busy CPU) the
listener task can start a second or more after Bolt's clock did, and a timer set for "2 s
from now" fires late again. So:

- the deadline is `ACK_DEADLINE_SECONDS` after the request reached the listener's middleware
  (`stamp_arrival`, the same instant Bolt's clock starts), leaving the rest of Slack's 3 s for
  the event loop's lateness;
- a listener that starts past the deadline, or while the worker threads are all busy (its
  work would only queue), acks "Saving…" at once, before its first await, so no loop delay
  can come between it and the ack.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rpm_logger import blocks
from rpm_logger.blocks import Reply

ACK_DEADLINE_SECONDS = 1.5  # after arrival; Slack (and Bolt) give up at 3 s
MAX_QUICK_IN_FLIGHT = 4  # more blocking works than this running: new ones ack "Saving…" first
ARRIVED = "rpm_arrived_at"  # context key: time.monotonic() when the request reached us

_in_flight = 0  # blocking works running in threads (one event loop per process)


async def stamp_arrival(context: dict[str, Any], next: Callable[[], Awaitable[None]],  # noqa: A002
                        ) -> None:
    """Listener middleware: runs inside Bolt's dispatch, right before Bolt starts its 3-second
    clock, so the ack deadline is measured from there."""
    context[ARRIVED] = time.monotonic()
    await next()


def _seconds_left(arrived_at: float | None, now: float) -> float:
    if arrived_at is None:
        return ACK_DEADLINE_SECONDS
    return arrived_at + ACK_DEADLINE_SECONDS - now


async def reply_within_budget(work: Callable[[], Reply], ack: Callable[..., Awaitable[Any]],
                              respond: Callable[..., Awaitable[Any]], *,
                              arrived_at: float | None = None,
                              clock: Callable[[], float] = time.monotonic) -> Reply:
    """Ack with the reply if `work` finishes before the deadline, else with "Saving…" and
    `respond` with the reply once it is done (the work is never cancelled mid-write)."""
    global _in_flight
    left = _seconds_left(arrived_at, clock())
    if left <= 0 or _in_flight >= MAX_QUICK_IN_FLIGHT:
        await ack(**blocks.working_reply().as_kwargs())  # nothing awaited before: no delay
        acked = True
    else:
        acked = False
    _in_flight += 1
    task = asyncio.ensure_future(asyncio.to_thread(work))
    task.add_done_callback(_finished)
    if not acked:
        done, _ = await asyncio.wait({task}, timeout=left)
        if done:
            reply = task.result()
            await ack(**reply.as_kwargs())
            return reply
        await ack(**blocks.working_reply().as_kwargs())
    reply = await task
    await respond(**reply.as_kwargs(), response_type="ephemeral", replace_original=True)
    return reply


def _finished(_: "asyncio.Future[Reply]") -> None:
    global _in_flight
    _in_flight -= 1
