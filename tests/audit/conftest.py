"""Shared fixtures of the packet tests: the CLI on each database with a nurse and a doctor,
and the bot's loopback fixtures (the real app, signed like Slack)."""

import os

import pytest

from tests.bot.conftest import seeded, server_url, slack  # noqa: F401
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.snapshots import seeded_by_cli


@pytest.fixture
def staffed_cli(db_url: str, clock: FrozenClock) -> Cli:
    """`rpm-logger` in-process on the test database, on the frozen clock (2026-11-20: a
    patient added without an enrolment date counts from November 2026, whatever day the suite
    runs): U01NURSE (clinical staff) and U02DOC (a physician with an NPI)."""
    cli = Cli(cli_env(db_url), clock=clock)
    seeded_by_cli(cli, *STAFF)
    return cli


def cli_env(db_url: str) -> dict[str, str]:
    """The CLI's environment on the test database: no Slack, no Twilio, New York."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(DATABASE_URL=db_url, CLINIC_TIMEZONE="America/New_York")
    return env


STAFF = (("staff", "add", "U01NURSE", "--name", "Nina Nurse", "--role", "clinical_staff"),
         ("staff", "add", "U02DOC", "--name", "Dee Doctor", "--role", "physician",
          "--npi", "1234567890"))
