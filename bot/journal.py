"""Slack commands answered "Saving…", on disk before that answer (issue 27 item 2).

Why: a command not finished within Slack's budget is acked "Saving… I will confirm" and its
work runs on in a thread (bot/listeners/budget.py). A SIGTERM lets that backlog finish
(`finish_backlog`), but a kill -9 (out of memory, a container's hard stop) dropped it with
the process: 300 commands and a kill -9 lost 164 on SQLite and 255 on PostgreSQL, each nurse
told "Saving…" and nothing more. So the command itself (who, where, what was typed, its
response_url, when; never the work's closure) is appended here and fsync'd before "Saving…"
is acked, and the next server runs what was left (bot/replay.py) under the same key, which
the entry keeps (`LogRequest.external_ref`): a command whose first run had committed is not
saved twice.

One JSON object a line, three kinds:
- `asked`: the command, fsync'd before the ack says "Saving…";
- `replied`: the work's reply (text and blocks), before it is sent: a command killed between
  its commit and its confirmation is confirmed with it, not run again;
- `done`: the reply reached Slack, or was given up on.
`replied` and `done` reach the kernel but are not fsync'd: a kill -9 cannot lose what the
kernel has, only a machine crash can, and then the command runs again, which its key makes
harmless. Writes go through one thread, in order, a batch at a time with one fsync, so a
burst of "Saving…" acks shares its fsyncs instead of queueing one each on the event loop.

Each server process writes a file of its own (`commands-N.jsonl`), holding an exclusive
`flock` on it while it runs. A process starting takes the first file nobody holds (the
kernel lets go of a killed process's lock) and adopts the commands left in any other file
nobody holds (a replica killed and not started again), so no command is run by two processes.
When no command is open the file is emptied: what staff typed is kept no longer than needed.
The folder is created 0700 and the files are 0600: they hold what was typed (clinic ids,
notes) and response_urls (each a capability to post in a channel); none of it is ever
logged. A last line cut short by the kill is dropped with one log line (its `asked` never
finished its fsync, so its command was never told "Saving…"); start-up never fails on one.
"""

import asyncio
import fcntl
import json
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from presentation.blocks import Reply

log = logging.getLogger("rpm_logger.bot")

PREFIX, SUFFIX = "commands-", ".jsonl"
MAX_FILES = 64  # server processes journaling into one folder at once
ASKED_WAIT_SECONDS = 1.0  # longest an ack waits for its fsync (a stalled disk: see `made`)


class JournalUnavailable(Exception):
    """The journal's folder or file cannot be used: `serve` does not start without it."""


@dataclass(frozen=True)
class JournaledCommand:
    """A slash command as Slack sent it, with its key and when it was typed."""

    key: str
    at: datetime  # the service clock's time when it arrived
    user_id: str
    channel_id: str
    text: str
    response_url: str
    display_name: str | None = None  # `staff add`: the new member's name, looked up once
    reply: Reply | None = None  # the work's reply, when it was journaled before the kill


def new_key() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class _Write:
    data: bytes | None  # None: empty the file (no command is open)
    future: "asyncio.Future[None] | None" = None  # an `asked`: its ack waits for the fsync
    key: str | None = None  # an `asked`'s command


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _asked_line(command: JournaledCommand) -> bytes:
    return _line({"op": "asked", "key": command.key, "at": command.at.isoformat(),
                  "user": command.user_id, "channel": command.channel_id,
                  "text": command.text, "response_url": command.response_url,
                  "name": command.display_name})


def _replied_line(key: str, reply: Reply) -> bytes:
    return _line({"op": "replied", "key": key, "text": reply.text, "blocks": reply.blocks})


def _apply(pending: dict[str, JournaledCommand], record: dict[str, Any]) -> None:
    """One line read back; a field of the wrong type raises (the line is skipped)."""
    key, op = record["key"], record["op"]
    if not isinstance(key, str):
        raise TypeError("key")
    if op == "asked":
        at, name = datetime.fromisoformat(record["at"]), record.get("name")
        if at.tzinfo is None:
            raise ValueError("at")
        pending[key] = JournaledCommand(
            key, at, _text(record["user"]), _text(record["channel"]), _text(record["text"]),
            _text(record["response_url"]), _text(name) if name is not None else None)
    elif op == "replied" and key in pending:
        blocks = record["blocks"] or []
        if not isinstance(blocks, list):
            raise TypeError("blocks")
        pending[key] = replace(pending[key], reply=Reply(_text(record["text"]), blocks))
    elif op == "done":
        pending.pop(key, None)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _read(fd: int, name: str) -> tuple[list[JournaledCommand], int]:
    """The commands asked and not done, oldest first, and the length of the whole lines."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    whole = data.rfind(b"\n") + 1
    if whole < len(data):
        log.warning("slack journal %s: dropped an incomplete last line (the process was "
                    "killed while writing it, before its command was told \"Saving…\")", name)
    pending: dict[str, JournaledCommand] = {}
    unreadable = 0
    for line in data[:whole].splitlines():
        try:
            record = json.loads(line)
            _apply(pending, record)
        except (ValueError, KeyError, TypeError, AttributeError):
            unreadable += 1
    if unreadable:
        log.warning("slack journal %s: skipped %d unreadable lines", name, unreadable)
    return list(pending.values()), whole


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _sync_folder(folder: Path) -> None:
    """A new file's name survives a machine crash only once its folder is fsync'd."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _held(path: Path) -> int | None:
    """The file opened (created 0600) and locked for this process; None: another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    os.fchmod(fd, 0o600)  # a file left by an older version or another umask
    return fd


def _release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


class CommandJournal:
    """This process's journal file: what the last run left (`pending`), and the appends."""

    def __init__(self, folder: Path, fd: int, name: str,
                 pending: list[JournaledCommand]) -> None:
        self.folder = folder
        self.name = name
        self._fd = fd
        self._pending = pending
        self._open = {command.key for command in pending}
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="slack-journal")
        self._writes: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, folder: Path) -> "CommandJournal":
        """Take the first file nobody holds, with what it still holds and whatever the
        other files nobody holds still hold (their processes are gone)."""
        try:
            if not folder.is_dir():
                folder.mkdir(mode=0o700, parents=True)
            for n in range(MAX_FILES):
                path = folder / f"{PREFIX}{n}{SUFFIX}"
                fd = _held(path)
                if fd is not None:
                    break
            else:
                raise JournalUnavailable(f"all {MAX_FILES} Slack journal files in {folder} "
                                         "are held by running processes")
            try:
                _sync_folder(folder)
                pending, whole = _read(fd, path.name)
                os.ftruncate(fd, whole)  # a torn last line goes: the next append starts clean
                pending += _adopt(folder, fd, path)
            except BaseException:
                _release(fd)
                raise
        except OSError as exc:
            raise JournalUnavailable(
                f"the Slack command journal cannot be kept in {folder} "
                f"({type(exc).__name__}: {exc.strerror or exc}): set SLACK_JOURNAL_DIR to a "
                "folder this process can write, on storage that outlives the process"
            ) from exc
        if pending:
            log.warning("slack journal: %d commands answered \"Saving…\" before the server "
                        "stopped are to be run and confirmed", len(pending))
        return cls(folder, fd, path.name, pending)

    def pending(self) -> list[JournaledCommand]:
        """What the last run left unfinished, oldest first (handed out once)."""
        pending, self._pending = self._pending, []
        return pending

    def asked(self, command: JournaledCommand) -> "asyncio.Future[None]":
        """Append the command; the future is done once it is fsync'd (an OSError if not)."""
        self._open.add(command.key)
        future = asyncio.get_running_loop().create_future()
        self._append(_Write(_asked_line(command), future, command.key))
        return future

    def replied(self, key: str, reply: Reply) -> None:
        if key in self._open:
            self._append(_Write(_replied_line(key, reply)))

    def done(self, key: str) -> None:
        if key not in self._open:
            return
        self._open.discard(key)
        self._append(_Write(_line({"op": "done", "key": key})))
        if not self._open:
            self._append(_Write(None))

    async def close(self) -> None:
        """Finish the appends, then let go of the file (the next process may take it)."""
        if self._writer is not None:
            await asyncio.wait({self._writer})
        self._thread.shutdown(wait=True)
        _release(self._fd)

    def _append(self, write: _Write) -> None:
        self._writes.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Write what is queued, a batch at a time (one fsync a batch), in order."""
        loop = asyncio.get_running_loop()
        while self._writes:
            batch, self._writes = self._writes, []
            failure: OSError | None = None
            try:
                await loop.run_in_executor(self._thread, self._write, batch)
            except OSError as exc:
                failure = exc
                log.error("slack journal %s could not be written (%s): commands answered "
                          "\"Saving…\" now are not safe from a crash", self.name,
                          type(exc).__name__)
            for write in batch:
                if write.future is None or write.future.done():
                    continue
                if failure is None:
                    write.future.set_result(None)
                else:  # not journaled: nothing to replay, nothing to mark done
                    self._open.discard(write.key or "")
                    write.future.set_exception(failure)

    def _write(self, batch: list[_Write]) -> None:
        """In the journal's thread: the lines, the emptying, then one fsync if an `asked`
        waits for it."""
        chunk = bytearray()
        for write in batch:
            if write.data is not None:
                chunk += write.data
                continue
            _write_all(self._fd, bytes(chunk))
            chunk.clear()
            os.ftruncate(self._fd, 0)
        _write_all(self._fd, bytes(chunk))
        if any(write.future is not None for write in batch):
            os.fdatasync(self._fd)


def _adopt(folder: Path, own_fd: int, own: Path) -> list[JournaledCommand]:
    """The open commands of every other journal file nobody holds, copied into this
    process's file (fsync'd) before theirs is emptied: a crash in between runs them from
    here, and the key keeps that harmless."""
    adopted: list[JournaledCommand] = []
    for path in sorted(folder.glob(f"{PREFIX}*{SUFFIX}")):
        if path == own or path.is_symlink():
            continue
        fd = _held(path)
        if fd is None:
            continue  # a running process's
        try:
            found, _ = _read(fd, path.name)
            if found:
                _write_all(own_fd, b"".join(
                    _asked_line(c) + (_replied_line(c.key, c.reply) if c.reply else b"")
                    for c in found))
                os.fdatasync(own_fd)
                log.warning("slack journal: took %d unfinished commands from %s (its process "
                            "is gone)", len(found), path.name)
            os.ftruncate(fd, 0)
            adopted += found
        finally:
            _release(fd)
    return adopted


class SavingPromise:
    """One command's "Saving…" as bot/listeners/budget.py keeps it (its `Promise`): on disk
    before the ack says it, then its reply, then its delivery."""

    def __init__(self, journal: CommandJournal, command: JournaledCommand) -> None:
        self.journal = journal
        self.command = command

    async def made(self) -> None:
        """Wait for the fsync, at most ASKED_WAIT_SECONDS: a disk stalled longer must not
        hold the ack past Slack's 3 s (the line still lands, late). A failed write was
        logged; the work still runs and confirms, as it did before the journal."""
        written = self.journal.asked(self.command)
        written.add_done_callback(_retrieved)
        done, _ = await asyncio.wait({written}, timeout=ASKED_WAIT_SECONDS)
        if not done:
            log.warning("slack journal %s: an fsync took over %.1f s; \"Saving…\" was acked "
                        "before it finished", self.journal.name, ASKED_WAIT_SECONDS)

    def kept(self, reply: Reply) -> None:
        self.journal.replied(self.command.key, reply)

    def settled(self) -> None:
        self.journal.done(self.command.key)


def _retrieved(future: "asyncio.Future[None]") -> None:
    """A failed write is logged by the writer; its future's exception is seen here."""
    if not future.cancelled():
        future.exception()
