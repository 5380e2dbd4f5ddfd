"""The journal of Slack commands answered "Saving…" (bot/journal.py), as files: what a
killed process leaves is read back by the next one, a torn last line is dropped, the files
are private, one process per file, and a file with nothing open is emptied.

No database and no server here: tests/bot/test_replay.py runs what is read back, and
tests/test_faults_sigkill.py kills a real server."""

import asyncio
import json
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import SlackRuntime
from bot.journal import (
    CommandJournal,
    JournaledCommand,
    JournalUnavailable,
    SavingPromise,
    new_key,
)
from configuration.settings import Settings
from presentation.blocks import text_reply

AT = datetime(2026, 11, 20, 19, 58, tzinfo=UTC)
NOTE = "P-1042 called back, 617-555-0123"  # what a nurse may type: never in a log line


def _command(key: str | None = None, text: str = f"log P-1042 12m review {NOTE}",
             ) -> JournaledCommand:
    return JournaledCommand(key or new_key(), AT, "U01NURSE", "C0CHAN", text,
                            "https://hooks.slack.test/commands/T1/1/abc")


def _killed(journal: CommandJournal) -> None:
    """What a kill -9 leaves: the appends made so far, the lock let go by the kernel."""
    journal._thread.shutdown(wait=True)
    os.close(journal._fd)


async def _ask(journal: CommandJournal, *commands: JournaledCommand) -> None:
    for command in commands:
        await journal.asked(command)


def test_a_killed_processs_open_commands_are_read_back_with_their_replies(
    tmp_path: Path,
) -> None:
    a, b, c = _command("a"), _command("b"), _command("c", text="staff add <@U9|Ann> qhp")
    c = JournaledCommand(c.key, c.at, c.user_id, c.channel_id, c.text, c.response_url, "Ann")

    async def run() -> CommandJournal:
        journal = CommandJournal.open(tmp_path)
        await _ask(journal, a, b, c)
        journal.replied("b", text_reply("✅ Saved entry #7"))
        journal.done("a")
        await asyncio.sleep(0.05)
        return journal

    _killed(asyncio.run(run()))
    again = CommandJournal.open(tmp_path)
    pending = again.pending()
    assert [p.key for p in pending] == ["b", "c"]
    assert pending[0].reply is not None and pending[0].reply.text == "✅ Saved entry #7"
    assert (pending[1].display_name, pending[1].at, pending[1].text) == ("Ann", AT, c.text)
    assert pending[0].response_url == b.response_url and again.pending() == []
    asyncio.run(again.close())


def test_a_torn_last_line_is_dropped_with_one_log_line_and_the_next_append_starts_clean(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The kill came mid-write: that command's fsync never finished, so it was never told
    "Saving…"; the lines before it stand."""
    whole = json.dumps({"op": "asked", "key": "a", "at": AT.isoformat(), "user": "U1",
                        "channel": "C1", "text": NOTE, "response_url": "u", "name": None})
    (tmp_path / "commands-0.jsonl").write_text(whole + "\n" + whole[:40].replace('"a"', '"b"'))
    with caplog.at_level(logging.WARNING):
        journal = CommandJournal.open(tmp_path)
    assert [p.key for p in journal.pending()] == ["a"]
    torn = [r.getMessage() for r in caplog.records if "incomplete last line" in r.getMessage()]
    assert len(torn) == 1 and all(NOTE not in r.getMessage() for r in caplog.records)

    asyncio.run(_ask(journal, _command("c")))
    _killed(journal)
    assert [p.key for p in CommandJournal.open(tmp_path).pending()] == ["a", "c"]


def test_unreadable_lines_are_skipped_and_counted_never_quoted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "commands-0.jsonl").write_text(
        f"not json {NOTE}\n" + json.dumps({"op": "asked", "key": 5}) + "\n"
        + json.dumps({"op": "asked", "key": "x", "at": "2026-11-20T19:58:00", "user": "U1",
                      "channel": "C", "text": "t", "response_url": "u"}) + "\n")
    with caplog.at_level(logging.WARNING):
        assert CommandJournal.open(tmp_path).pending() == []  # a naive time is unreadable too
    [line] = [r.getMessage() for r in caplog.records]
    assert "skipped 3 unreadable lines" in line and NOTE not in line


def test_the_folder_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "slack-journal"
    old = os.umask(0)
    try:
        (tmp_path / "shared").mkdir()
        loose = tmp_path / "shared" / "commands-0.jsonl"
        loose.write_text("")
        loose.chmod(0o666)  # left by another umask
        journal = CommandJournal.open(folder)
        shared = CommandJournal.open(tmp_path / "shared")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "commands-0.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    asyncio.run(journal.close())
    asyncio.run(shared.close())


def test_a_folder_that_cannot_be_written_is_a_clear_refusal_at_start(tmp_path: Path) -> None:
    """`serve` with Slack configured does not start without its journal (the Slack runtime
    opens it first): one error naming the folder and the setting."""
    (tmp_path / "a-file").write_text("")
    settings = Settings(slack_signing_secret="s", slack_bot_token="xoxb-t",
                        slack_journal_dir=tmp_path / "a-file" / "slack-journal")
    with pytest.raises(JournalUnavailable, match="a-file/slack-journal .*NotADirectoryError.*"
                       "set SLACK_JOURNAL_DIR to a folder"):
        asyncio.run(SlackRuntime.start(settings, service=None))  # type: ignore[arg-type]


def test_each_process_holds_its_own_file_and_takes_over_those_nobody_holds(
    tmp_path: Path,
) -> None:
    """Three replicas; the second and third are killed; the next process to start takes the
    second's file (the first free) and adopts the third's commands, while the first, still
    running, keeps its own untouched."""
    first, second, third = (CommandJournal.open(tmp_path) for _ in range(3))
    assert [j.name for j in (first, second, third)] == \
        ["commands-0.jsonl", "commands-1.jsonl", "commands-2.jsonl"]

    async def ask() -> None:
        await _ask(first, _command("running"))
        await _ask(second, _command("x"))
        await _ask(third, _command("y"))

    asyncio.run(ask())
    _killed(second)
    _killed(third)
    fourth = CommandJournal.open(tmp_path)
    assert fourth.name == "commands-1.jsonl"
    assert [p.key for p in fourth.pending()] == ["x", "y"]
    assert (tmp_path / "commands-2.jsonl").stat().st_size == 0
    _killed(fourth)  # adopted commands survive another kill, from its own file
    assert [p.key for p in CommandJournal.open(tmp_path).pending()] == ["x", "y"]
    assert "running" in (tmp_path / "commands-0.jsonl").read_text()


def test_the_file_is_emptied_once_nothing_is_open(tmp_path: Path) -> None:
    """What staff typed is kept no longer than its command is open."""
    path = tmp_path / "commands-0.jsonl"

    async def run() -> None:
        journal = CommandJournal.open(tmp_path)
        a, b = _command("a"), _command("b")
        await _ask(journal, a, b)
        journal.replied("a", text_reply("done"))
        journal.done("a")
        await journal.asked(_command("c"))  # behind a's lines: written in order
        assert NOTE in path.read_text()
        journal.done("b")
        journal.done("c")
        await journal.close()

    asyncio.run(run())
    assert path.stat().st_size == 0


def test_the_ack_waits_for_the_fsync_and_a_burst_shares_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`made` returns only once the command is on disk; 50 at once take a few fsyncs, not
    50 (a burst's acks are not queued behind one fsync each)."""
    syncs: list[int] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (syncs.append(fd), real(fd))[1])
    commands = [_command(str(n)) for n in range(50)]

    async def run() -> None:
        journal = CommandJournal.open(tmp_path)
        await asyncio.gather(*(SavingPromise(journal, c).made() for c in commands))
        on_disk = (tmp_path / "commands-0.jsonl").read_text()
        assert all(f'"key":"{c.key}"' in on_disk for c in commands)
        await journal.close()

    asyncio.run(run())
    assert 1 <= len(syncs) <= 3


def test_a_failed_write_is_logged_and_the_ack_still_goes_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """A full disk: the command is answered "Saving…" as before the journal (its work still
    runs and confirms) and the error says the crash protection is off, never the text."""
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", full)

    async def run() -> None:
        journal = CommandJournal.open(tmp_path)
        promise = SavingPromise(journal, _command("a"))
        await promise.made()
        promise.kept(text_reply("✅ Saved entry #1"))
        promise.settled()
        await journal.close()

    with caplog.at_level(logging.ERROR):
        asyncio.run(run())
    [record] = caplog.records
    assert "not safe from a crash" in record.getMessage() and NOTE not in record.getMessage()
