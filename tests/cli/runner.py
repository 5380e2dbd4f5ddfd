"""`rpm-logger ARGS` for tests: in this process by default, or as the real console script.

Starting the console script costs seconds (interpreter, imports, migration check) and most CLI
tests run it a dozen times, so `Cli` runs the same entry point (`rpm_logger.cli.main`, with its
exit codes and stderr messages) in this process under click's CliRunner, the way the process
would see it:
- `env` is the whole environment (variables not in it are unset for the run), read afresh:
  the cached Settings are cleared before and after each run;
- stdin is not a terminal: empty (as `stdin=DEVNULL`), so "no terminal means exit 2" holds,
  or what `cli(ARGS, stdin=TEXT)` pipes in;
- every database the run opened is disposed when it ends (a process exit would close it), so
  no SQLite file stays locked and no PostgreSQL connection outlives the run;
- an exception the entry point lets out becomes exit 1 with its traceback on stderr, as
  Python prints it when a process dies of one.
`Cli(env, clock=clock)` runs it at a test's frozen instant (`cli.main(clock)`).
`cli.on_terminal(answer, ARGS)` runs it with stdin a real pseudo-terminal on which a person
types `answer`: `sys.stdin.isatty()` is the terminal's answer and click's prompt reads the line
from it (`input()`), in this process too.
`Cli(env, process=True)` runs the real `rpm-logger` script instead: the tests that prove the
console script itself (its start-up, its exit codes) use it.
"""

import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from unittest import mock

from click.testing import CliRunner

SCRIPT = Path(sys.executable).with_name("rpm-logger")


class Cli:
    def __init__(self, env: dict[str, str], *, process: bool = False,
                 clock: Callable[[], datetime] | None = None) -> None:
        assert not (process and clock), "a console script runs on the real clock"
        self.env = env
        self.process = process
        self.clock = clock

    def __call__(self, *args: str, code: int = 0,
                 stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`rpm-logger ARGS`, its exit code checked; `stdin` is what is piped in (no
        terminal either way)."""
        result = (self.run_process(*args, stdin=stdin) if self.process
                  else self.run_here(*args, stdin=stdin))
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result

    def on_terminal(self, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
        """`rpm-logger ARGS` with a pseudo-terminal as stdin, on which `answer` is typed (and
        Enter); the exit code is the caller's to check."""
        import pty

        main, side = pty.openpty()
        try:
            os.write(main, answer.encode() + b"\n")
            if self.process:
                process = subprocess.Popen([str(SCRIPT), *args], env=self.env, stdin=side,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True)
                out, err = process.communicate(timeout=60)
                return subprocess.CompletedProcess(args, process.returncode, out, err)
            with open(side, closefd=False) as terminal:
                return self.run_here(*args, terminal=terminal)
        finally:
            os.close(main)
            os.close(side)

    def run_process(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        if stdin:
            return subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True,
                                  text=True, timeout=60, input=stdin)
        return subprocess.run([str(SCRIPT), *args], env=self.env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def run_here(self, *args: str, terminal: TextIO | None = None,
                 stdin: str = "") -> subprocess.CompletedProcess[str]:
        from rpm_logger import cli

        overrides: dict[str, str | None] = {k: None for k in os.environ if k not in self.env}
        overrides.update(self.env)
        with (_fresh_settings(), _disposing_databases(),
              CliRunner().isolation(input=stdin or None,
                                    env=overrides) as (stdout, stderr, _),
              _stdin(terminal),
              mock.patch.object(sys, "argv", [str(SCRIPT), *args])):
            try:
                cli.main(self.clock)
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc)
            except Exception:  # noqa: BLE001 - what the interpreter does with an uncaught one
                sys.stderr.write(traceback.format_exc())
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            return subprocess.CompletedProcess(
                args, code, stdout.getvalue().decode(), stderr.getvalue().decode())


@contextmanager
def _stdin(terminal: TextIO | None) -> Iterator[None]:
    """stdin is `terminal` (a pseudo-terminal) where given, and click's prompts read from it
    as in a process (Python's `input()`), not from CliRunner's input."""
    if terminal is None:
        yield
        return
    from click import termui

    with (mock.patch.object(sys, "stdin", terminal),
          mock.patch.object(termui, "visible_prompt_func", input)):
        yield


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")  # sys.exit("message") prints it and exits 1
    return 1


@contextmanager
def _fresh_settings() -> Iterator[None]:
    from configuration.settings import get_settings

    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


@contextmanager
def _disposing_databases() -> Iterator[None]:
    """Every Database made during the run is disposed at its end (even one whose migration
    failed), as the process's exit would close its connections."""
    from store.db import Database

    opened: list[Database] = []
    real = Database.__init__

    def recording(database: Database, *args: Any, **kwargs: Any) -> None:
        opened.append(database)
        real(database, *args, **kwargs)

    try:
        with mock.patch.object(Database, "__init__", recording):
            yield
    finally:
        for database in opened:
            if hasattr(database, "engine"):
                database.dispose()
