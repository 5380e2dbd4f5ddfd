"""The bot's bounded backlog (bot/listeners/budget.py): a command past `MAX_BACKLOG` waits
for the place the next finished work frees, else is told "busy, not saved" and never runs;
when the server stops, accepted works finish and confirm, unstarted ones after the grace
answer "not saved"; a confirmation response_url refuses is sent again."""

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from bot.listeners import budget
from presentation.blocks import Reply, text_reply

NOT_SAVED = "not saved — try again"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's counters as a new process has them; restored afterwards."""
    monkeypatch.setattr(budget, "_in_flight", 0)
    monkeypatch.setattr(budget, "_waiting", budget.deque())
    monkeypatch.setattr(budget, "_shift", budget._Shift())
    monkeypatch.setattr(budget, "_work_seconds", budget.FIRST_WORK_SECONDS)


class Command:
    """One command's ack, response_url and work, recorded in `events`."""

    def __init__(self, name: str, events: list[str], release: threading.Event | None = None,
                 *, late: bool = False) -> None:
        self.name, self.events, self.release = name, events, release
        self.late = late  # arrived past the ack deadline: acks "Saving…" at once
        self.responses: list[str] = []
        self.counted: list[str] = []  # what the ack was, as the metrics count it

    async def ack(self, **kwargs: Any) -> None:
        self.events.append(f"{self.name} ack: {kwargs['text']}")

    async def respond(self, **kwargs: Any) -> None:
        self.responses.append(kwargs["text"])
        self.events.append(f"{self.name} respond: {kwargs['text']}")

    def work(self) -> Reply:
        self.events.append(f"{self.name} work")
        if self.release is not None:
            assert self.release.wait(10)
        return text_reply(f"Saved entry {self.name}")

    async def send(self) -> Reply:
        return await budget.reply_within_budget(self.work, self.ack, self.respond,
                                                arrived_at=time.monotonic() - 2 * self.late,
                                                counted=self.counted.append)


def test_past_the_bound_a_command_waits_for_the_place_the_next_work_frees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "MAX_BACKLOG", 1)
    events: list[str] = []
    release = threading.Event()
    first, second = Command("A", events, release), Command("B", events)

    async def go() -> None:
        a = asyncio.ensure_future(first.send())
        await asyncio.sleep(0.05)  # A holds the only place
        b = asyncio.ensure_future(second.send())
        await asyncio.sleep(0.05)
        assert "B work" not in events and len(budget._waiting) == 1
        release.set()
        await asyncio.gather(a, b)

    asyncio.run(go())
    assert events.index("A work") < events.index("B work")
    assert not any(NOT_SAVED in e for e in events), events
    assert budget._in_flight == 0 and not budget._waiting


def test_no_place_by_the_deadline_is_busy_not_saved_and_never_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "MAX_BACKLOG", 1)
    monkeypatch.setattr(budget, "ACK_DEADLINE_SECONDS", 0.2)
    events: list[str] = []
    release = threading.Event()
    first, second = Command("A", events, release), Command("B", events)

    async def go() -> Reply:
        a = asyncio.ensure_future(first.send())
        await asyncio.sleep(0.05)
        assert budget.backlog() == 1  # what rpm_slack_backlog_depth shows
        refused = await second.send()
        release.set()
        await a
        return refused

    refused = asyncio.run(go())
    assert NOT_SAVED in refused.text
    assert [e for e in events if e.startswith("B")] == [f"B ack: {refused.text}"]
    assert budget._in_flight == 0 and not budget._waiting and budget.backlog() == 0
    assert (first.counted, second.counted) == ([budget.SAVING], [budget.NOT_SAVED])


def test_stopping_waits_for_the_accepted_work_and_its_confirmation() -> None:
    events: list[str] = []
    release = threading.Event()
    command = Command("A", events, release, late=True)

    async def go() -> None:
        sent = asyncio.ensure_future(command.send())
        await asyncio.sleep(0.05)
        asyncio.get_running_loop().call_later(0.2, release.set)
        await budget.finish_backlog(grace=5)
        events.append("stopped")
        await sent

    asyncio.run(go())
    assert events[0].startswith("A ack: ⏳ Saving…")
    assert events[1:] == ["A work", "A respond: Saved entry A", "stopped"]


def test_a_work_unstarted_when_the_grace_is_over_answers_not_saved_and_never_runs() -> None:
    shift = budget._Shift()
    shift.stop_by = time.monotonic() - 1
    ran: list[str] = []

    def work() -> Reply:
        ran.append("ran")
        return text_reply("Saved")

    reply = budget._timed(work, shift)()
    assert NOT_SAVED in reply.text and ran == []


def test_commands_still_waiting_when_the_server_stops_are_told_not_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(budget, "MAX_BACKLOG", 1)
    monkeypatch.setattr(budget, "ACK_DEADLINE_SECONDS", 5)
    events: list[str] = []
    release = threading.Event()
    first, second = Command("A", events, release), Command("B", events)

    async def go() -> Reply:
        a = asyncio.ensure_future(first.send())
        await asyncio.sleep(0.05)
        b = asyncio.ensure_future(second.send())
        await asyncio.sleep(0.05)
        asyncio.get_running_loop().call_later(0.1, release.set)
        await budget.finish_backlog(grace=5)
        await a
        return await b

    assert NOT_SAVED in asyncio.run(go()).text
    assert "B work" not in events


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    async def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("response_url refused")


def test_a_refused_confirmation_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget.asyncio, "sleep", _no_sleep)
    respond = Flaky(failures=budget.RESPOND_TRIES - 1)
    assert asyncio.run(budget.confirm(respond, text_reply("Saved entry #1")))
    assert respond.calls == budget.RESPOND_TRIES


def test_a_confirmation_that_never_gets_through_is_logged_without_its_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(budget.asyncio, "sleep", _no_sleep)
    respond = Flaky(failures=99)
    with caplog.at_level(logging.ERROR):
        assert not asyncio.run(budget.confirm(respond,
                                              text_reply("Saved entry #1 for P-1042 AB")))
    assert respond.calls == budget.RESPOND_TRIES
    [record] = caplog.records
    assert "response_url" in record.getMessage() and "P-1042" not in record.getMessage()


async def _no_sleep(_: float) -> None:
    return None


def test_a_command_cancelled_after_it_was_handed_a_place_passes_the_place_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server stopping cancels a waiting listener just as a work finished: the place it
    was handed must not stay taken forever (the bound would shrink by one each time)."""
    monkeypatch.setattr(budget, "MAX_BACKLOG", 1)
    monkeypatch.setattr(budget, "_in_flight", 1)  # one work holds the only place
    events: list[str] = []

    async def go() -> None:
        waiting = asyncio.ensure_future(Command("B", events).send())
        await asyncio.sleep(0.05)
        budget._release()  # the work finished: its place is handed to B...
        waiting.cancel()  # ...which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(go())
    assert budget._in_flight == 0 and not budget._waiting and events == []
