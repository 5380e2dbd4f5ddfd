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

Why a bound on the backlog (bench/http_load.py: "answered 10395, stored only 4702"): a "Saving…" ack
costs almost nothing, so a burst of commands (wrk at 32 connections: ~1,000 a second) was
all acked "Saving…" while the thread pool finished ~150 works a second. Nothing refused
work: 10 s of burst queued ~9,000 works (a minute of draining), and whatever had not run
when the server stopped was cancelled with its listener (asyncio.run cancels the tasks left;
a queued `to_thread` work is dropped with its future): "Saving…", then no entry and no
reply. So:

- at most `MAX_BACKLOG` works are accepted and unfinished; a command beyond it waits for
  room (first come, first served) until its ack deadline, and is then acked "busy, not
  saved — try again" without running (nothing written). The waiting slows a burst down to
  what the pool finishes, and the bound keeps the backlog to a few seconds of work;
- when the server stops (`finish_backlog`, from the Slack runtime's stop) the backlog gets
  `SHUTDOWN_GRACE_SECONDS` to finish and confirm; a work still unstarted after that is not
  run and its command gets "not saved — try again" at response_url instead;
- a confirmation that response_url refuses is sent again (Slack takes five), and one that
  never gets through is logged: the entry is stored either way.

Why a `Promise` (bot/journal.py): a kill -9 ends the process without `finish_backlog`, and
the works it had acked "Saving…" went with it. A command that is to be acked "Saving…" is
first made durable (`made`: the command, not the work, fsync'd to the journal), its reply is
noted once the work returns (`kept`) and its delivery once Slack has it (`settled`); the
next server runs and confirms what a kill left (bot/replay.py). A command answered in the
ack itself needs none of it: that answer is only sent after its commit.
"""

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from presentation import blocks
from presentation.blocks import Reply

log = logging.getLogger("rpm_logger.bot")

ACK_DEADLINE_SECONDS = 1.5  # after arrival; Slack (and Bolt) give up at 3 s
MAX_QUICK_IN_FLIGHT = 64  # more blocking works than this running: new ones ack "Saving…" first
MAX_BACKLOG = 256  # works accepted and unfinished: beyond it a command waits, then "busy"
SHUTDOWN_GRACE_SECONDS = 10.0  # the backlog's time to finish when the server stops
RESPOND_TRIES = 3  # a confirmation response_url refused is sent again (Slack allows 5 uses)
CONFIRM_SECONDS = 10.0  # after the grace, the stop's time for the last replies to go out
ARRIVED = "rpm_arrived_at"  # context key: time.monotonic() when the request reached us
FIRST_WORK_SECONDS = 0.05  # the time one work is assumed to take until one has been measured
_SMOOTHING = 0.2  # weight of the newest measurement in the running mean
_WORKERS = min(32, (os.cpu_count() or 1) + 4)  # asyncio.to_thread's pool (the loop's default)

_in_flight = 0  # blocking works accepted and unfinished (one event loop per process)
_work_seconds = FIRST_WORK_SECONDS  # running mean of one work's own time (in its thread)
_waiting: deque["asyncio.Future[bool]"] = deque()  # commands waiting for room, oldest first


class _Shift:
    """One server run's backlog: the listeners that accepted work, and from when an unstarted
    work is no longer run (set when the server stops)."""

    def __init__(self) -> None:
        self.listeners: set[asyncio.Task[Any]] = set()
        self.stop_by: float | None = None

    def closed(self) -> bool:
        return self.stop_by is not None and time.monotonic() > self.stop_by


_shift = _Shift()


class Promise(Protocol):
    """What a "Saving…" promises, kept where a kill cannot reach (bot/journal.py)."""

    async def made(self) -> None:
        """Durable before the ack says "Saving…"."""

    def kept(self, reply: Reply) -> None:
        """The work's reply, before it is sent."""

    def settled(self) -> None:
        """The reply reached Slack, or was given up on."""


# what the ack said, for counting (rpm_slack_commands_total): the reply itself, "Saving…"
# (the reply follows at response_url), or "not saved" without running
ANSWERED, SAVING, NOT_SAVED = "answered", "saving", "not_saved"


def _uncounted(_outcome: str) -> None:
    """`counted` when nobody counts."""


def backlog() -> int:
    """Works accepted and unfinished: the backlog MAX_BACKLOG bounds."""
    return _in_flight


def busy_reply() -> Reply:
    return blocks.text_reply("⚠️ Too many commands at once: this one was *not saved — try "
                             "again* in a moment. Nothing was written.")


def stopping_reply() -> Reply:
    return blocks.text_reply("⚠️ The server was restarting: this command was *not saved — "
                             "try again* in a moment. Nothing was written.")


def _would_queue_past(left: float) -> bool:
    """Whether the works already in flight before this one (`_in_flight` counts it), run
    `_WORKERS` at a time by the thread pool (each one's measured time is its time among that
    many), would use more than half of the time left before the deadline."""
    rounds = -(-(_in_flight - 1) // _WORKERS)  # ceiling
    return rounds * _work_seconds > left / 2


def _timed(work: Callable[[], Reply], shift: _Shift) -> Callable[[], Reply]:
    def run() -> Reply:
        global _work_seconds
        if shift.closed():  # the server stopped before this work's turn: never half-run
            return stopping_reply()
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


async def _room(left: float) -> bool:
    """Take a place in the backlog: at once when there is room and nobody waits, else the
    first place freed before the deadline (`_release` hands it over); False: none came."""
    global _in_flight
    if _in_flight < MAX_BACKLOG and not _waiting:
        _in_flight += 1
        return True
    if left <= 0:
        return False
    turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    _waiting.append(turn)
    try:
        await asyncio.wait({turn}, timeout=left)
    except BaseException:
        if turn.done() and not turn.cancelled() and turn.result():
            _release()  # handed a place, then cancelled itself: the place goes on
        raise
    finally:
        if not turn.done():
            turn.cancel()  # `_release` skips it
    if turn.cancelled() or not turn.result():
        return False
    return True


def _release(_: object = None) -> None:
    """A work finished: its place goes to the oldest command still waiting, else is freed."""
    global _in_flight
    while _waiting:
        turn = _waiting.popleft()
        if not turn.done() and not turn.get_loop().is_closed():
            turn.set_result(True)
            return
    _in_flight -= 1


async def reply_within_budget(work: Callable[[], Reply], ack: Callable[..., Awaitable[Any]],
                              respond: Callable[..., Awaitable[Any]], *,
                              arrived_at: float | None = None,
                              clock: Callable[[], float] = time.monotonic,
                              promise: Promise | None = None,
                              counted: Callable[[str], None] = _uncounted) -> Reply:
    """Ack with the reply if `work` finishes before the deadline, else with "Saving…" (once
    `promise` is made) and `respond` with the reply once it is done (the work is never
    cancelled mid-write); with no room in the backlog by the deadline, ack "busy, not saved"
    and never run it. `counted` is told which of the three the ack was."""
    if not await _room(_seconds_left(arrived_at, clock())):
        reply = busy_reply()
        counted(NOT_SAVED)
        await ack(**reply.as_kwargs())
        return reply
    left = _seconds_left(arrived_at, clock())
    acked = left <= 0 or _in_flight > MAX_QUICK_IN_FLIGHT or _would_queue_past(left)
    shift = _shift
    task = asyncio.ensure_future(asyncio.to_thread(_timed(work, shift)))
    task.add_done_callback(_release)  # the place is given back whatever happens below
    listener = asyncio.current_task()
    if listener is not None:
        shift.listeners.add(listener)
    try:
        if not acked:
            done, _ = await asyncio.wait({task}, timeout=left)
            if done:
                reply = task.result()
                counted(ANSWERED)
                await ack(**reply.as_kwargs())
                return reply
        # acked at once: nothing suspended before but the journal's fsync (bot/journal.py:
        # a burst shares them; a stalled disk holds the ack at most ASKED_WAIT_SECONDS)
        if promise is not None:
            await promise.made()
        counted(SAVING)
        await ack(**blocks.working_reply().as_kwargs())
        reply = await task
        if promise is not None:
            promise.kept(reply)
        await confirm(respond, reply)
        if promise is not None:
            promise.settled()
        return reply
    finally:
        shift.listeners.discard(listener)


async def confirm(respond: Callable[..., Awaitable[Any]], reply: Reply) -> bool:
    """The reply to a "Saving…", at response_url; tried again when refused or unreachable.
    False: it never got through (logged)."""
    for attempt in range(1, RESPOND_TRIES + 1):
        try:
            sent = await respond(**reply.as_kwargs(), response_type="ephemeral",
                                 replace_original=True)
            if getattr(sent, "status_code", 200) < 300:
                return True
            problem = f"status {sent.status_code}"
        except Exception as exc:  # noqa: BLE001 - tried again, then logged
            problem = type(exc).__name__
        if attempt < RESPOND_TRIES:
            await asyncio.sleep(0.5 * attempt)
    # no PHI: the reply's text is not logged, only that it did not arrive
    log.error("the reply to a \"Saving…\" did not reach response_url (%s, %d tries); what "
              "was saved stays saved", problem, RESPOND_TRIES)
    return False


async def finish_backlog(grace: float | None = None) -> None:
    """The server is stopping: give the accepted works `grace` seconds to finish and confirm;
    those not started by then answer "not saved" (`_timed`). Commands still waiting for room
    are refused at once. Later works (another app in this process) start a new shift."""
    global _shift
    grace = SHUTDOWN_GRACE_SECONDS if grace is None else grace
    shift, _shift = _shift, _Shift()
    shift.stop_by = time.monotonic() + grace
    while _waiting:
        turn = _waiting.popleft()
        if not turn.done() and not turn.get_loop().is_closed():
            turn.set_result(False)
    if shift.listeners:
        # the unstarted ones answer at once after `grace`, then post to response_url
        await asyncio.wait(set(shift.listeners), timeout=grace + CONFIRM_SECONDS)
