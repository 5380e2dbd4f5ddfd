"""A burst of `/rpm log` past what the worker threads finish (bench/http_load.py's "answered
10,395, stored only 4,702" on PostgreSQL): real signed requests to the real app on loopback,
from many clients at once, each sending its next command as soon as the last is answered
(as wrk does), then the server stops. Every answer must end as a stored entry with its
confirmation ("Saved entry #", in the ack or at response_url after "Saving…") or as an
explicit "not saved"; the rows stored are exactly the confirmed ones.

Each work is slowed (a sleep before the real dispatch) so that a modest burst queues behind
the thread pool as a fast machine's wrk burst does; nothing else is changed.
"""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot import dispatch
from bot.listeners import budget
from rpm_logger.app import create_app
from service import Service
from store.models import TimeEntry
from tests.bot.conftest import SECRET, SlackSender, all_text
from tests.fakes.slack_api import SlackApiRecorder
from tests.loopback import served
from tests.telephony.conftest import seed_clinic, twilio_settings
from tests.test_faults import assert_whole, stored

# 48 clients at once load the machine on purpose: run alone, in CI's serial step, where
# the load is its own and the rest of the suite does not wait behind it
pytestmark = pytest.mark.serial

CLIENTS = 48  # more than the pool's threads: their works queue
PER_CLIENT = 8
WORK_SECONDS = 0.1  # each work's own time: 48 queued are ~0.8 s of the pool's 6 threads
SAVED, SAVING, NOT_SAVED = "Saved entry #", "Saving…", "not saved — try again"


@pytest.fixture
def slow_works(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dispatch.run

    def slow(*args: object) -> object:
        time.sleep(WORK_SECONDS)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dispatch, "run", slow)
    # the measured time per work is the module's: the next tests start from the default
    monkeypatch.setattr(budget, "_work_seconds", budget.FIRST_WORK_SECONDS)
    monkeypatch.setattr(budget, "SHUTDOWN_GRACE_SECONDS", 3.0)  # within served()'s join


def _users(svc: Service) -> list[str]:
    seed_clinic(svc)
    users = [f"U8{n:04d}" for n in range(CLIENTS)]
    for user in users:
        svc.staff.add(slack_user_id=user, name=f"Staff {user}", role="clinical_staff",
                      actor="test")
    return users


def _burst(svc: Service, slack_api: SlackApiRecorder, users: list[str]) -> list[tuple[str, str]]:
    """(ack text, response_url) of every command; the server has stopped on return."""
    settings = twilio_settings(slack_api, slack_signing_secret=SECRET, reconcile_enabled=False)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    with served(create_app(settings, service=svc)) as url, \
            httpx.Client(timeout=30, limits=limits) as http:
        slack = SlackSender(url, slack_api, http)
        slack.command("help")  # Bolt's auth.test out of the way

        def client(user: str) -> list[tuple[str, str]]:
            answers = []
            for i in range(PER_CLIENT):
                sent = slack.command(f"log P-1042 {1 + i}m review", user=user)
                assert sent.response.status_code == 200, sent.response.text
                answers.append((sent.text, sent.response_url or ""))
            return answers

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answered = [a for answers in pool.map(client, users) for a in answers]
    return answered  # served() has stopped the server: whatever it still had queued


def _final(slack_api: SlackApiRecorder, response_url: str, timeout: float = 30) -> str:
    """What the command's response_url got after "Saving…" (the stop may still be sending)."""
    path = "/" + response_url.split("/", 3)[3]
    deadline = time.monotonic() + timeout
    while not (posted := slack_api.calls_to(path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(posted) == 1, f"{len(posted)} replies at {path} after 'Saving…'"
    return all_text(posted[0].body)


def _outcomes(slack_api: SlackApiRecorder, answered: list[tuple[str, str]]) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for ack, response_url in answered:
        final = _final(slack_api, response_url) if SAVING in ack else ack
        kind = "saved" if SAVED in final else "not saved" if NOT_SAVED in final else final
        outcomes[("after Saving… " if SAVING in ack else "in the ack ") + kind] += 1
    return outcomes


def _saved_entries(svc: Service) -> list[TimeEntry]:
    state = stored(svc.ctx.db)
    assert_whole(state)
    return [e for e in state.entries if e.source == "slack"]


def _check(svc: Service, outcomes: Counter[str]) -> None:
    assert set(outcomes) <= {"in the ack saved", "in the ack not saved",
                             "after Saving… saved", "after Saving… not saved"}, outcomes
    assert sum(outcomes.values()) == CLIENTS * PER_CLIENT
    saved = outcomes["in the ack saved"] + outcomes["after Saving… saved"]
    assert len(_saved_entries(svc)) == saved, outcomes


@pytest.mark.timeout(120)
def test_every_saving_of_a_burst_ends_saved_and_confirmed_or_not_saved(
    svc: Service, slack_api: SlackApiRecorder, slow_works: None,
) -> None:
    """Before the fix the works still queued when the server stopped were cancelled with
    their listeners: "Saving…", then no entry and no reply at response_url."""
    answered = _burst(svc, slack_api, _users(svc))
    outcomes = _outcomes(slack_api, answered)
    assert outcomes["after Saving… saved"] > 0, outcomes  # the burst took the Saving… path
    _check(svc, outcomes)


@pytest.mark.timeout(120)
def test_a_burst_past_the_backlog_bound_is_told_busy_not_saved_in_the_ack(
    svc: Service, slack_api: SlackApiRecorder, slow_works: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backlog of 8 works (0.13 s of the pool) and 48 clients: most commands wait for room
    past their ack deadline and are refused in the ack, without running; the rest finish."""
    monkeypatch.setattr(budget, "MAX_BACKLOG", 8)
    monkeypatch.setattr(budget, "ACK_DEADLINE_SECONDS", 0.3)
    answered = _burst(svc, slack_api, _users(svc))
    outcomes = _outcomes(slack_api, answered)
    assert outcomes["in the ack not saved"] > 0, outcomes
    assert outcomes["in the ack saved"] + outcomes["after Saving… saved"] > 0, outcomes
    _check(svc, outcomes)
