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
- a listener that starts past the deadline, or whose work would only queue past it (the
  works already in flight, times the recent time one takes, leave less than half the time
  left), acks "Saving…" at once, before its first await, so no loop delay can come between
  it and the ack.

Why a prediction and not a fixed count of works in flight: at 32 clients a count of 4 sent
nearly every command down the "Saving…" path, and each then cost an outbound HTTP request
to response_url (a new connection: more CPU than the command's own work), though its work
would have been done in a few milliseconds. Under a CPU hog the measured time per work
grows and the prediction sends new commands to "Saving…" as before.
"""

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rpm_logger import blocks
from rpm_logger.blocks import Reply

ACK_DEADLINE_SECONDS = 1.5  # after arrival; Slack (and Bolt) give up at 3 s
MAX_QUICK_IN_FLIGHT = 64  # more blocking works than this running: new ones ack "Saving…" first
ARRIVED = "rpm_arrived_at"  # context key: time.monotonic() when the request reached us
FIRST_WORK_SECONDS = 0.05  # the time one work is assumed to take until one has been measured
_SMOOTHING = 0.2  # weight of the newest measurement in the running mean
_WORKERS = min(32, (os.cpu_count() or 1) + 4)  # asyncio.to_thread's pool (the loop's default)

_in_flight = 0  # blocking works running in threads (one event loop per process)
_work_seconds = FIRST_WORK_SECONDS  # running mean of one work's own time (in its thread)


def _would_queue_past(left: float) -> bool:
    """Whether the works already in flight, run `_WORKERS` at a time by the thread pool
    (each one's measured time is its time among that many), would use more than half of the
    time left before the deadline."""
    rounds = -(-_in_flight // _WORKERS)  # ceiling
    return rounds * _work_seconds > left / 2


def _timed(work: Callable[[], Reply]) -> Callable[[], Reply]:
    def run() -> Reply:
        global _work_seconds
        started = time.perf_counter()
        try:
            return work()
        finally:
            took = time.perf_counter() - started
            _work_seconds += _SMOOTHING * (took - _work_seconds)
    return run


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
    if left <= 0 or _in_flight >= MAX_QUICK_IN_FLIGHT or _would_queue_past(left):
        await ack(**blocks.working_reply().as_kwargs())  # nothing awaited before: no delay
        acked = True
    else:
        acked = False
    _in_flight += 1
    task = asyncio.ensure_future(asyncio.to_thread(_timed(work)))
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
