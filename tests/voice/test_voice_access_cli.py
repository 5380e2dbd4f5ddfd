"""`staff update --voice-pin/--voice-unlock` and `staff list` on SQLite and PostgreSQL: the
digits never appear in any output; a bad PIN is refused (exit 2) with nothing changed; `-`
asks at a hidden prompt typed twice, `''` removes the PIN; a lock shows until when."""

import os
import re
import sys
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner

from service import Service, ServiceContext
from store.db import Database
from tests.cli.runner import SCRIPT, Cli, _disposing_databases, _fresh_settings
from tests.voice.helpers import NURSE_PHONE, OTHER_PIN, PIN, attempt, caller

NURSE = "U01NURSE"


@pytest.fixture
def env(db_url: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    values.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    return values


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    run = Cli(env)
    run("staff", "add", NURSE, "--name", "Nina Nurse", "--role", "clinical_staff",
        "--phone", NURSE_PHONE)
    return run


@pytest.fixture
def svc(db_url: str) -> Service:
    """The same database on the real clock (the CLI's), as the voice menu would use it."""
    return Service(ServiceContext(Database(db_url)))


def _nurse_line(cli: Cli) -> str:
    [line] = [x for x in cli("staff", "list").stdout.splitlines() if x.startswith(NURSE)]
    return line


def test_a_pin_is_set_listed_as_yes_and_never_echoed(cli: Cli, svc: Service) -> None:
    assert _nurse_line(cli).endswith("voice PIN: no")
    done = cli("staff", "update", NURSE, "--voice-pin", PIN)
    assert done.stdout.strip().endswith("voice PIN: yes")
    assert PIN not in done.stdout + done.stderr
    assert _nurse_line(cli).endswith("voice PIN: yes")
    found = caller(svc)
    assert found is not None and attempt(svc, found.staff_id, PIN).ok


def test_an_empty_pin_removes_it(cli: Cli) -> None:
    cli("staff", "update", NURSE, "--voice-pin", PIN)
    assert cli("staff", "update", NURSE, "--voice-pin", "").stdout.strip().endswith(
        "voice PIN: no")


@pytest.mark.parametrize("bad", ["123", "123456789", "12a4", "4321 "])
def test_a_bad_pin_is_refused_and_nothing_changes(cli: Cli, svc: Service, bad: str) -> None:
    cli("staff", "update", NURSE, "--voice-pin", PIN)
    refused = cli("staff", "update", NURSE, "--voice-pin", bad, code=2)
    assert "4 to 8 digits" in refused.stderr
    assert bad.strip() not in refused.stdout + refused.stderr
    found = caller(svc)
    assert found is not None and attempt(svc, found.staff_id, PIN).ok


def test_voice_options_with_other_changes_are_refused(cli: Cli) -> None:
    refused = cli("staff", "update", NURSE, "--voice-pin", PIN, "--name", "N", code=2)
    assert "nothing changed" in refused.stderr and PIN not in refused.stderr
    assert "Nina Nurse" in _nurse_line(cli) and _nurse_line(cli).endswith("voice PIN: no")


def test_a_lock_is_listed_until_when_and_unlock_lifts_it(cli: Cli, svc: Service) -> None:
    cli("staff", "update", NURSE, "--voice-pin", PIN)
    found = caller(svc)
    assert found is not None
    verdicts = [attempt(svc, found.staff_id, OTHER_PIN) for _ in range(5)]
    assert verdicts[-1].locked_now
    line = _nurse_line(cli)
    assert re.search(r"voice PIN: yes, voice locked until \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T$",
                     line), line
    assert "voice locked" not in cli("staff", "update", NURSE, "--voice-unlock").stdout
    assert "voice locked" not in _nurse_line(cli)
    assert attempt(svc, found.staff_id, PIN).ok


def test_a_new_pin_lifts_a_lock(cli: Cli, svc: Service) -> None:
    cli("staff", "update", NURSE, "--voice-pin", PIN)
    found = caller(svc)
    assert found is not None
    for _ in range(5):
        attempt(svc, found.staff_id, "0000")
    cli("staff", "update", NURSE, "--voice-pin", OTHER_PIN)
    assert "voice locked" not in _nurse_line(cli)
    assert attempt(svc, found.staff_id, OTHER_PIN).ok


def test_a_prompted_pin_needs_a_terminal(cli: Cli) -> None:
    refused = cli("staff", "update", NURSE, "--voice-pin", "-", code=2)
    assert "no terminal" in refused.stderr
    assert _nurse_line(cli).endswith("voice PIN: no")


def test_a_piped_pin_is_read_from_the_first_line_and_never_shown(cli: Cli,
                                                                  svc: Service) -> None:
    """No terminal: a script pipes the PIN (issue 24), never putting it on a command line;
    only the first line is read."""
    done = cli("staff", "update", NURSE, "--voice-pin", "-", stdin=f"{PIN}\r\n{OTHER_PIN}\n")
    assert done.stdout.strip().endswith("voice PIN: yes")
    assert PIN not in done.stdout + done.stderr and OTHER_PIN not in done.stdout + done.stderr
    found = caller(svc)
    assert found is not None and attempt(svc, found.staff_id, PIN).ok


@pytest.mark.parametrize("piped", ["\n", "12a4\n", "4321 \n", "9" * 100])
def test_an_empty_or_bad_piped_pin_is_refused_and_nothing_changes(cli: Cli, svc: Service,
                                                                   piped: str) -> None:
    cli("staff", "update", NURSE, "--voice-pin", PIN)
    refused = cli("staff", "update", NURSE, "--voice-pin", "-", stdin=piped, code=2)
    said = refused.stdout + refused.stderr
    assert ("no PIN on standard input" if piped == "\n" else "4 to 8 digits") in said
    assert not piped.strip() or piped.strip()[:8] not in said
    found = caller(svc)
    assert found is not None and attempt(svc, found.staff_id, PIN).ok


def _prompted(env: dict[str, str], typed: str) -> tuple[int, str]:
    """`staff update --voice-pin -` through the console entry point (its exit codes), on a
    terminal where `typed` is what the person types; stdout and stderr together."""
    from rpm_logger import cli as cli_module
    from rpm_logger.cli import staff as staff_commands

    argv = [str(SCRIPT), "staff", "update", NURSE, "--voice-pin", "-"]
    with (_fresh_settings(), _disposing_databases(),
          mock.patch.object(staff_commands, "interactive", return_value=True),
          CliRunner().isolation(input=typed, env=env) as (stdout, stderr, _),
          mock.patch.object(sys, "argv", argv)):
        try:
            cli_module.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, stdout.getvalue().decode() + stderr.getvalue().decode()


def test_a_pin_typed_at_the_hidden_prompt_twice_is_set_and_never_shown(
        cli: Cli, env: dict[str, str], svc: Service) -> None:
    code, output = _prompted(env, f"{PIN}\n{OTHER_PIN}\n{PIN}\n{PIN}\n")
    assert code == 0, output
    assert "do not match" in output  # the first pair differed: asked again
    assert PIN not in output and OTHER_PIN not in output
    assert f"updated {NURSE}  Nina Nurse  (clinical_staff)  voice PIN: yes" in output
    found = caller(svc)
    assert found is not None and attempt(svc, found.staff_id, PIN).ok


def test_a_bad_pin_at_the_prompt_is_refused(cli: Cli, env: dict[str, str]) -> None:
    code, output = _prompted(env, "12\n12\n")
    assert code == 2
    assert "4 to 8 digits" in output and "12\n" not in output.split(":", 1)[-1]
    assert _nurse_line(cli).endswith("voice PIN: no")


def test_the_script_runs_it_too(env: dict[str, str], tmp_path: Path) -> None:
    """The console script itself (no in-process shortcuts): set, list, never echoed; a
    refusal is the script's exit 2 with its message, no traceback. The suite's one run of the
    real `rpm-logger` per database: the other CLI tests run its entry point in-process."""
    run = Cli(env, process=True)
    run("staff", "add", NURSE, "--name", "Nina Nurse", "--role", "clinical_staff")
    done = run("staff", "update", NURSE, "--voice-pin", PIN)
    assert PIN not in done.stdout + done.stderr and "voice PIN: yes" in done.stdout
    refused = run("staff", "update", NURSE, "--voice-pin", "12a4", code=2)
    assert "4 to 8 digits" in refused.stderr and "Traceback" not in refused.stderr
    assert "12a4" not in refused.stdout + refused.stderr
