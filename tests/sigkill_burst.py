"""A burst of signed `/rpm log` commands to a real `rpm-logger serve` process, a SIGKILL in
the middle of it, and the same server started again: what each command was told, what was
stored and what reached its response_url. Shared by tests/test_faults_sigkill.py and
bench/sigkill_burst.py.

Each command carries a note of its own (`burst-17`), so its entries are found by note: a
command told "Saving…" must end with exactly one entry and a confirmation naming that entry;
no command may have two."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from store.db import Database
from store.tables import time_entries
from tests.bot.conftest import SECRET, SlackSender, all_text
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "fakes" / "slow_serve.py"
SAVED, SAVING, NOT_SAVED = "Saved entry #", "Saving…", "not saved"
_ENTRY = re.compile(r"Saved entry #([0-9]+)")


def serve_env(database_url: str, data_dir: Path, slack_api: SlackApiRecorder) -> dict[str, str]:
    """`serve`'s environment: this database, this data folder (the default journal's home),
    Slack pointed at the recorder, nothing else configured, no background jobs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "DATABASE_URL", "RPM_", "PUBLIC_"))}
    return {**env, "DATABASE_URL": database_url, "RPM_DATA_DIR": str(data_dir),
            "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": slack_api.base_url, "REMINDERS_ENABLED": "false",
            "LOG_LEVEL": "WARNING"}


class ServeProcess:
    """`serve` in its own process (tests/fakes/slow_serve.py: each work held `hold` seconds
    before and after the real dispatch), on `port` on loopback (None: a free one at each start);
    `code` is the checkout whose code it runs."""

    def __init__(self, env: dict[str, str], hold: tuple[float, float] = (0.0, 0.0),
                 code: Path = ROOT, port: int | None = None) -> None:
        self.env = {**env, "PYTHONPATH": str(code)}
        self.hold = hold
        self.code = code
        self.port = port  # None: a free one at each start
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = tempfile.TemporaryFile()  # its stderr: a pipe nobody reads could fill

    def start(self, timeout: float = 60) -> str:
        port = self.port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(RUNNER), str(port), *map(str, self.hold)], env=self.env,
            cwd=self.code, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("serve stopped during start-up:\n" + self._stderr())
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: nothing of the process runs after this."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        """SIGTERM (the graceful stop); what the process wrote to stderr."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self._stderr()

    def _stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def serving(server: ServeProcess) -> Iterator[str]:
    try:
        yield server.start()
    finally:
        server.stop()


@dataclass
class Answer:
    note: str  # the command's own note: its entries are found by it
    response_url: str
    ack: str | None  # the HTTP answer's text; None: none came (the process died first)
    seconds: float = 0.0  # from sending to the answer (Slack gives up at 3)


def burst(url: str, slack_api: SlackApiRecorder, *, user: str, patient: str, commands: int,
          clients: int, kill_when: Callable[[list[Answer]], bool],
          kill: Callable[[], None]) -> list[Answer]:
    """`commands` `/rpm log`s from `clients` at once, each sending its next as soon as the last
    is answered (as Slack's users do under an attack script); `kill` runs once, as soon as
    `kill_when(answers so far)` holds, or when every command has been answered. A client whose
    request finds the process gone stops."""
    answers: list[Answer] = []
    lock = threading.Lock()
    numbers = iter(range(commands))
    gone = threading.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    with httpx.Client(timeout=30, limits=limits) as http:
        slack = SlackSender(url, slack_api, http)
        slack.command("help", user=user)  # Bolt's auth.test out of the way

        def client() -> None:
            while not gone.is_set():
                with lock:
                    i = next(numbers, None)
                if i is None:
                    return
                note = f"burst-{i}"
                text = f"log {patient} {1 + i % 30}m review {note}"
                started = time.monotonic()
                try:
                    sent = slack.command(text, user=user)
                    answer = Answer(note, sent.response_url or "", sent.text,
                                    time.monotonic() - started)
                except httpx.TransportError:
                    answer = Answer(note, "", None)
                with lock:
                    answers.append(answer)
                if answer.ack is None:
                    return

        with ThreadPoolExecutor(max_workers=clients) as pool:
            running = [pool.submit(client) for _ in range(clients)]
            while not all(f.done() for f in running):
                with lock:
                    now = list(answers)
                if kill_when(now):
                    break
                time.sleep(0.005)
            gone.set()
            kill()
    return answers


def entries_by_note(database_url: str) -> Counter[str]:
    """How many entries each note has (a note per command)."""
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(select(time_entries.c.note, func.count())
                                      .group_by(time_entries.c.note)).all()
    finally:
        db.dispose()
    return Counter({str(note): int(count) for note, count in rows if note})


def entry_ids_by_note(database_url: str) -> dict[str, list[int]]:
    db = Database(database_url)
    try:
        with db.engine.connect() as connection:
            rows = connection.execute(select(time_entries.c.note, time_entries.c.id)).all()
    finally:
        db.dispose()
    found: dict[str, list[int]] = {}
    for note, entry_id in rows:
        found.setdefault(str(note), []).append(int(entry_id))
    return found


def posted(slack_api: SlackApiRecorder, response_url: str) -> list[str]:
    """The texts posted to a command's response_url."""
    path = "/" + response_url.split("/", 3)[3]
    return [all_text(call.body) for call in slack_api.calls_to(path)]


def confirmed_entry(slack_api: SlackApiRecorder, answer: Answer) -> int | None:
    """The entry id the command's confirmation names (the ack's, else the last post's)."""
    texts = [answer.ack or ""] + (posted(slack_api, answer.response_url)
                                  if answer.response_url else [])
    found = [int(m.group(1)) for text in texts for m in _ENTRY.finditer(text)]
    return found[-1] if found else None


def wait_for_confirmations(slack_api: SlackApiRecorder, answers: list[Answer],
                           timeout: float) -> None:
    """Until every command told "Saving…" has a reply at its response_url, or `timeout`."""
    deadline = time.monotonic() + timeout
    waiting = [a for a in answers if a.ack is not None and SAVING in a.ack]
    while waiting and time.monotonic() < deadline:
        waiting = [a for a in waiting if not posted(slack_api, a.response_url)]
        time.sleep(0.05)


@dataclass
class Tally:
    """What a burst, its kill and the restart came to."""

    sent: int = 0
    acked: Counter[str] = field(default_factory=Counter)  # saved / saving / not saved / none
    saving_lost: int = 0  # told "Saving…", no entry
    saving_unconfirmed: int = 0  # told "Saving…", no confirmation naming its entry
    duplicated: int = 0  # commands with more than one entry
    stored_unanswered: int = 0  # no HTTP answer (killed first) but stored: replayed

    def line(self) -> str:
        return (f"sent {self.sent}; ack: {dict(self.acked)}; 'Saving…' lost {self.saving_lost},"
                f" unconfirmed {self.saving_unconfirmed}; duplicated {self.duplicated}; "
                f"stored without an answer {self.stored_unanswered}")


def tally(answers: list[Answer], stored: dict[str, list[int]],
          slack_api: SlackApiRecorder) -> Tally:
    result = Tally(sent=len(answers))
    for answer in answers:
        ids = stored.get(answer.note, [])
        kind = ("none" if answer.ack is None else "saving" if SAVING in answer.ack
                else "saved" if SAVED in answer.ack else "not saved" if NOT_SAVED in answer.ack
                else "other")
        result.acked[kind] += 1
        result.duplicated += len(ids) > 1
        if kind == "saving":
            result.saving_lost += not ids
            result.saving_unconfirmed += confirmed_entry(slack_api, answer) not in ids
        if kind == "none":
            result.stored_unanswered += bool(ids)
    return result
