"""Issue 27 item 2: a burst of signed `/rpm log` commands to the real `rpm-logger serve`
process, `kill -9` while commands answered "Saving…" are still queued, running, or committed
but not yet confirmed, then the same server started again. Before the journal, SQLite lost
164 of such commands and PostgreSQL 255 (the attack report): the nurse was told "Saving… I
will confirm" and heard nothing more.

Now every command told "Saving…" is stored exactly once (a replayed command already committed
before the kill is found by its key, never saved twice) and its confirmation, naming that
entry, reaches its response_url after the restart; no command of the burst has two entries.

Each work is held slow in the killed process (tests/fakes/slow_serve.py: a sleep before and
after the real dispatch) so that the kill finds all three kinds; the restarted server runs
at full speed."""

from pathlib import Path

import pytest

from service import Policy, Service, ServiceContext
from service.context import utc_now
from service.patients import PatientFields
from store.db import Database
from tests.fakes.slack_api import SlackApiRecorder
from tests.sigkill_burst import (
    SAVING,
    Answer,
    ServeProcess,
    burst,
    entry_ids_by_note,
    posted,
    serve_env,
    serving,
    tally,
    wait_for_confirmations,
)

# two real server processes, 40 clients at once: load of its own, in the serial step
pytestmark = pytest.mark.serial

NURSE, PATIENT = "U0BURST", "P-1042"
COMMANDS, CLIENTS = 120, 40
HOLD = (0.05, 0.15)  # seconds each work sleeps before and after its real dispatch
KILL_AFTER_SAVING = 25  # answers "Saving…" before the kill
KILL_AFTER_CONFIRMED = 3  # ... and confirmations of them: the pool is on "Saving…" works


def _clinic(db: Database) -> None:
    """One nurse and one patient, on the real clock: the server logs at the real time."""
    svc = Service(ServiceContext(db, Policy(), utc_now))
    svc.staff.add(slack_user_id=NURSE, name="Nina Burst", role="clinical_staff", actor="test")
    svc.patients.add(PATIENT, PatientFields(initials="JD"), actor="test")


def _saving(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.ack is not None and SAVING in a.ack]


def _kill_now(answers: list[Answer], slack_api: SlackApiRecorder) -> bool:
    saving = _saving(answers)
    return len(saving) >= KILL_AFTER_SAVING and sum(
        bool(posted(slack_api, a.response_url)) for a in saving) >= KILL_AFTER_CONFIRMED


@pytest.mark.timeout(240)
def test_every_command_told_saving_survives_a_sigkill_stored_once_and_confirmed(
    db_url: str, db: Database, slack_api: SlackApiRecorder, tmp_path: Path,
) -> None:
    _clinic(db)
    env = serve_env(db_url, tmp_path / "data", slack_api)
    killed = ServeProcess(env, hold=HOLD)
    url = killed.start()
    try:
        answers = burst(url, slack_api, user=NURSE, patient=PATIENT, commands=COMMANDS,
                        clients=CLIENTS, kill=killed.kill,
                        kill_when=lambda a: _kill_now(a, slack_api))
    finally:
        killed.stop()
    saving = _saving(answers)
    assert len(saving) >= KILL_AFTER_SAVING, [a.ack for a in answers]
    at_kill = entry_ids_by_note(db_url)
    # the kill found both: works not yet committed, and works committed but not confirmed
    assert any(a.note not in at_kill for a in saving)
    assert any(a.note in at_kill and not posted(slack_api, a.response_url) for a in saving)

    with serving(ServeProcess(env)):
        wait_for_confirmations(slack_api, answers, timeout=60)
        stored = entry_ids_by_note(db_url)
    result = tally(answers, stored, slack_api)
    assert (result.saving_lost, result.saving_unconfirmed, result.duplicated) == (0, 0, 0), \
        result.line()
