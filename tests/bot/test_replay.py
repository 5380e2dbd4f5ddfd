"""What a killed server left in the journal, run and confirmed by the next (bot/replay.py),
on both databases: once (a command whose first run had committed is answered with that
entry), at its response_url (or, past Slack's 30 minutes or refused there, in the app's DM),
and never a second dial of a call. And the other half, through the real app: a command is on
disk before its "Saving…" ack, and off it once confirmed."""

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot import dispatch, grammar, replay
from bot.journal import CommandJournal, JournaledCommand
from bot.listeners import budget
from configuration.slack_client import make_async_web_client
from presentation.blocks import text_reply
from rpm_logger.app import create_app
from service import Service
from store.models import TimeEntry
from tests.bot.conftest import SlackSender, all_text, bot_settings
from tests.bot.helpers import entries
from tests.conftest import FrozenClock
from tests.fakes.slack_api import ScriptedReply, SlackApiRecorder
from tests.loopback import in_process

KEY = "0f3c5e7a9b1d4f6a8c2e4a6b8d0f2a4c"
PATH = "/response/journaled"  # the killed command's response_url (SlackSender's are numbered)


def _command(svc: Service, slack_api: SlackApiRecorder, text: str = "log P-1042 12m review",
             ago: timedelta = timedelta(minutes=2)) -> JournaledCommand:
    return JournaledCommand(KEY, svc.ctx.now() - ago, "U01NURSE", "C0CHAN", text,
                            f"{slack_api.root_url}{PATH}")


def _left(folder: Path, command: JournaledCommand, reply: Any = None) -> None:
    """A journal as a killed process leaves it: the command asked, never done."""
    async def run() -> None:
        journal = CommandJournal.open(folder)
        await journal.asked(command)
        if reply is not None:
            journal.replied(command.key, reply)
        await journal.close()

    asyncio.run(run())


def _replay(folder: Path, svc: Service, slack_api: SlackApiRecorder) -> None:
    async def run() -> None:
        journal = CommandJournal.open(folder)
        await replay.replay(journal, svc, make_async_web_client(bot_settings(slack_api)))
        await journal.close()

    asyncio.run(run())


def _posted(slack_api: SlackApiRecorder) -> list[str]:
    return [all_text(call.body) for call in slack_api.calls_to(PATH)]


def test_a_killed_command_is_run_once_as_typed_and_confirmed_at_its_response_url(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path,
) -> None:
    command = _command(seeded, slack_api)
    _left(tmp_path, command)
    _replay(tmp_path, seeded, slack_api)
    [entry] = entries(seeded)
    assert entry.ended_at == command.at  # when it was typed, not when it was replayed
    with seeded.ctx.db.read_session() as session:
        assert session.exec(select(TimeEntry.external_ref)).one() == f"slack:{KEY}"
    [text] = _posted(slack_api)
    assert f"Saved entry #{entry.id}" in text
    _replay(tmp_path, seeded, slack_api)  # done: a second start runs nothing
    assert len(entries(seeded)) == 1 and len(_posted(slack_api)) == 1
    assert (tmp_path / "commands-0.jsonl").stat().st_size == 0


def test_a_command_killed_after_its_commit_is_answered_with_that_entry_not_saved_again(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path,
) -> None:
    command = _command(seeded, slack_api)
    first = dispatch.run(seeded, grammar.parse(command.text),
                         dispatch.Caller("U01NURSE", "C0CHAN", key=KEY))  # then the kill
    assert "Saved entry #1" in first.text
    _left(tmp_path, command)
    _replay(tmp_path, seeded, slack_api)
    assert len(entries(seeded)) == 1
    [text] = _posted(slack_api)
    assert "Saved entry #1" in text


def test_a_journaled_reply_is_sent_as_it_was_without_running_again(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _left(tmp_path, _command(seeded, slack_api), text_reply("✅ Saved entry #41 (journaled)"))

    def never(*_: object) -> None:
        raise AssertionError("run again")

    monkeypatch.setattr(dispatch, "run", never)
    _replay(tmp_path, seeded, slack_api)
    assert _posted(slack_api) == ["✅ Saved entry #41 (journaled)"]


def test_past_slacks_30_minutes_the_reply_goes_to_the_dm(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path,
) -> None:
    command = _command(seeded, slack_api, ago=timedelta(minutes=40))
    _left(tmp_path, command)
    _replay(tmp_path, seeded, slack_api)
    assert _posted(slack_api) == []
    [opened] = slack_api.calls_to("conversations.open")
    [dm] = slack_api.calls_to("chat.postMessage")
    assert opened.body["users"] == "U01NURSE" and dm.body["channel"] == "D01NURSE"
    text = all_text(dm.body)
    assert "server restarted while your `/rpm` command of 2026-11-20 14:20 EST" in text
    assert f"Saved entry #{entries(seeded)[0].id}" in text


def test_a_response_url_that_refuses_falls_back_to_the_dm(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_sleep(_: float) -> None:
        return None

    monkeypatch.setattr(budget.asyncio, "sleep", no_sleep)
    slack_api.script(PATH, *[ScriptedReply(status=404, body={"ok": False})]
                     * budget.RESPOND_TRIES)
    _left(tmp_path, _command(seeded, slack_api))
    _replay(tmp_path, seeded, slack_api)
    assert len(_posted(slack_api)) == budget.RESPOND_TRIES
    [dm] = slack_api.calls_to("chat.postMessage")
    assert "Saved entry #" in all_text(dm.body)


def test_a_killed_click_to_call_is_never_dialled_again(
    seeded: Service, slack_api: SlackApiRecorder,
) -> None:
    reply = replay.rerun(seeded, _command(seeded, slack_api, text="call P-1042"))
    assert "may not have rung" in reply.text and "/rpm call" in reply.text


def test_the_server_replays_at_start_and_journals_a_saving_before_its_ack(
    seeded: Service, slack_api: SlackApiRecorder, tmp_path: Path, clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wiring: the app's start runs what the journal holds (SLACK_JOURNAL_DIR, set per
    test by tests/conftest.py); a command past its ack deadline is on disk when the client
    reads "Saving…", and the file is emptied once its reply is out."""
    folder = tmp_path / "slack-journal"
    _left(folder, _command(seeded, slack_api))
    release = threading.Event()
    real = dispatch.run

    def held(svc: Service, command: grammar.Command, caller: dispatch.Caller) -> Any:
        assert release.wait(timeout=10)
        return real(svc, command, caller)

    with in_process(create_app(bot_settings(slack_api), service=seeded)) as http:
        slack = SlackSender(str(http.base_url), slack_api, http)
        [replayed] = slack.wait_for(PATH)
        assert "Saved entry #1" in all_text(replayed.body)
        monkeypatch.setattr(dispatch, "run", held)
        monkeypatch.setattr(budget, "ACK_DEADLINE_SECONDS", 0)
        sent = slack.command("log P-1042 7m review on the phone")
        assert "Saving…" in sent.text
        assert "log P-1042 7m review on the phone" in (folder / "commands-0.jsonl").read_text()
        release.set()
        assert "Saved entry #2" in slack.final_text(sent)
    assert len(entries(seeded)) == 2
    assert (folder / "commands-0.jsonl").stat().st_size == 0
