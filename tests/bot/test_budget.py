"""The ack deadline (issue 13 item 13): counted from the request's arrival, and a listener
that starts late, or while the worker threads are busy, acks "Saving…" before its first
await, so no event-loop delay can push the ack past Bolt's 3 seconds. No timing here: a
fake clock says how late the listener started, and the order of events is asserted."""

import asyncio
import threading
from typing import Any

import pytest

from bot.listeners import budget
from presentation.blocks import Reply, text_reply


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.counted: list[str] = []  # what the ack was, as the metrics count it

    async def ack(self, **kwargs: Any) -> None:
        self.events.append(f"ack: {kwargs['text']}")

    async def respond(self, **kwargs: Any) -> None:
        self.events.append(f"respond: {kwargs['text']}")

    def work(self, release: threading.Event | None = None) -> Reply:
        self.events.append("work")
        if release is not None:
            release.wait(10)
        return text_reply("Saved entry #1")


def _run(recorder: Recorder, *, arrived_at: float | None, now: float,
         release: threading.Event | None = None) -> Reply:
    async def go() -> Reply:
        return await budget.reply_within_budget(
            lambda: recorder.work(release), recorder.ack, recorder.respond,
            arrived_at=arrived_at, clock=lambda: now, counted=recorder.counted.append)
    return asyncio.run(go())


def test_quick_work_answers_in_the_ack() -> None:
    recorder = Recorder()
    _run(recorder, arrived_at=100.0, now=100.2)
    assert recorder.events == ["work", "ack: Saved entry #1"]
    assert recorder.counted == [budget.ANSWERED]


@pytest.mark.parametrize("late", [budget.ACK_DEADLINE_SECONDS, 1.6, 2.9])
def test_a_listener_starting_past_the_deadline_acks_saving_before_anything_else(
    late: float,
) -> None:
    """Bolt's clock started `late` seconds ago: the ack comes first, the reply follows."""
    recorder = Recorder()
    _run(recorder, arrived_at=100.0, now=100.0 + late)
    assert recorder.events[0].startswith("ack: ⏳ Saving…")
    assert recorder.events[1:] == ["work", "respond: Saved entry #1"]
    assert recorder.counted == [budget.SAVING]


def test_the_deadline_counts_from_arrival_not_from_the_listener_start() -> None:
    """Started 1.4 s late, the listener waits at most 0.1 s, not a fresh budget."""
    recorder = Recorder()
    release = threading.Event()
    waits: list[float] = []
    real_wait = asyncio.wait

    async def recording_wait(tasks: Any, timeout: float) -> Any:
        waits.append(timeout)
        result = await real_wait(tasks, timeout=0)  # the deadline passes at once
        release.set()
        return result

    budget_wait = budget.asyncio.wait
    budget.asyncio.wait = recording_wait  # type: ignore[assignment]
    try:
        _run(recorder, arrived_at=100.0, now=101.4, release=release)
    finally:
        budget.asyncio.wait = budget_wait  # type: ignore[assignment]
    assert waits == [pytest.approx(budget.ACK_DEADLINE_SECONDS - 1.4)]
    # the work thread and the ack race; the reply always comes last, through respond
    assert sorted(recorder.events[:2]) == [
        "ack: ⏳ Saving… I will confirm here once it is saved.", "work"]
    assert recorder.events[2:] == ["respond: Saved entry #1"]


def test_with_the_worker_threads_busy_a_new_command_acks_saving_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under load its work would only queue behind the others: ack first."""
    monkeypatch.setattr(budget, "_in_flight", budget.MAX_QUICK_IN_FLIGHT)
    recorder = Recorder()
    _run(recorder, arrived_at=100.0, now=100.0)
    assert recorder.events[0].startswith("ack: ⏳ Saving…")
    assert recorder.events[1:] == ["work", "respond: Saved entry #1"]
    assert recorder.counted == [budget.SAVING]
    assert budget._in_flight == budget.MAX_QUICK_IN_FLIGHT  # this work's count was released


def test_a_short_queue_of_quick_works_still_answers_in_the_ack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """32 clients, a few ms each: waiting beats "Saving…" plus a response_url request."""
    monkeypatch.setattr(budget, "_in_flight", 31)
    monkeypatch.setattr(budget, "_work_seconds", 0.004)
    recorder = Recorder()
    _run(recorder, arrived_at=100.0, now=100.0)
    assert recorder.events == ["work", "ack: Saved entry #1"]


def test_a_queue_longer_than_half_the_time_left_acks_saving_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a CPU hog each work takes longer: 4 rounds of the pool at 0.25 s fill 1 s."""
    monkeypatch.setattr(budget, "_in_flight", 4 * budget._WORKERS)
    monkeypatch.setattr(budget, "_work_seconds", 0.25)
    recorder = Recorder()
    _run(recorder, arrived_at=100.0, now=100.0)
    assert recorder.events[0].startswith("ack: ⏳ Saving…")
    assert recorder.events[1:] == ["work", "respond: Saved entry #1"]
    assert recorder.counted == [budget.SAVING]


def test_each_work_updates_the_measured_time_per_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "_work_seconds", 10.0)
    _run(Recorder(), arrived_at=100.0, now=100.0)
    assert budget._work_seconds < 10.0
