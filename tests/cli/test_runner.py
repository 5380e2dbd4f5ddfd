"""The in-process runner behaves as the process would where the CLI tests rely on it."""

import os
from pathlib import Path

import pytest

from store.db import Database
from tests.cli.runner import Cli


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    return {**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'runner.db'}",
            "CLINIC_TIMEZONE": "America/New_York"}


def test_each_run_reads_its_own_environment_and_unsets_the_rest(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_TIMEZONE", "Mars/Olympus")  # this process's own: not the run's
    Cli(env)("staff", "add", "U01", "--name", "A", "--role", "clinical_staff")
    refused = Cli({**env, "CLINIC_TIMEZONE": "Mars/Olympus"})("report", code=2)
    assert "CLINIC_TIMEZONE" in refused.stderr  # not the first run's cached Settings
    assert "U01" in Cli(env)("staff", "list").stdout  # nor this run's
    assert os.environ["CLINIC_TIMEZONE"] == "Mars/Olympus"  # restored afterwards
    without = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    default = env["DATABASE_URL"].removeprefix("sqlite:///") + ".d"
    empty = Cli({**without, "RPM_DATA_DIR": default})("staff", "list", code=2)
    # DATABASE_URL unset: the default file (not there yet, so refused), not env's
    assert f"no database at {Path(default).resolve() / 'rpm-logger.db'}:" in empty.stderr


def test_no_terminal_and_databases_disposed(env: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    disposed: list[str] = []
    real = Database.dispose

    def recording(self: Database) -> None:
        disposed.append(self.url)
        real(self)

    monkeypatch.setattr(Database, "dispose", recording)
    cli = Cli(env)
    cli("staff", "add", "U01", "--name", "A", "--role", "clinical_staff")
    cli("patient", "add", "P-1", "--enrolled", "2026-01-01", "--consent", "2026-01-01")
    cli("log", "P-1", "25m", "call", "--staff", "U01", "--at", "2026-10-20T10:00")
    assert disposed == [env["DATABASE_URL"]] * 3  # one database a run, disposed at its end
    unattended = cli("month", "close", "2026-10", code=2)
    assert "no terminal to confirm on: nothing changed (pass --yes" in unattended.stderr


def test_an_uncaught_exception_is_exit_1_with_its_traceback(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from presentation import render

    def broken(*args: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(render, "staff_text", broken)
    crashed = Cli(env)("staff", "add", "U01", "--name", "A", "--role", "clinical_staff",
                       code=1)
    assert "Traceback" in crashed.stderr and "RuntimeError: boom" in crashed.stderr
