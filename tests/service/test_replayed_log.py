"""A chat log run again after the server was killed (issue 27 item 2, bot/journal.py): its
key is the entry's external reference, so a replay whose first run had committed returns that
entry and saves nothing; one whose first run had not, saves it as asked: ending when it was
typed, and "yesterday" the day before that, not before the replay."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from service import Service
from service.chat_entries import ChatLogged
from service.entries import LogRequest
from store.models import AuditEvent, TimeEntry
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE, seed

ASKED = datetime(2026, 11, 20, 4, 58, tzinfo=UTC)  # 23:58 on Nov 19 in the clinic (EST)
REQUEST = LogRequest(patient="P-1042", duration="12m", activity="review", staff=NURSE,
                     source="slack", note="replayed", patient_by_phone=False,
                     external_ref="slack:3f2a9c", asked_at=ASKED)


@pytest.fixture
def s(svc: Service) -> Service:
    seed(svc)
    return svc


def _entries(svc: Service) -> list[TimeEntry]:
    with svc.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


def _logged(result: object) -> ChatLogged:
    assert isinstance(result, ChatLogged)
    return result


def test_a_replay_after_the_first_run_committed_returns_that_entry_and_saves_nothing(
    s: Service, clock: FrozenClock,
) -> None:
    first = _logged(s.chat_entries.log_here(replace(REQUEST, asked_at=None), channel_id="C1"))
    clock.advance(minutes=3)  # the kill, the restart
    again = _logged(s.chat_entries.log_here(REQUEST, channel_id="C1"))
    assert again.logged.entry.id == first.logged.entry.id
    assert again.logged.summary.total_seconds == first.logged.summary.total_seconds == 720
    assert len(_entries(s)) == 1
    with s.ctx.db.read_session() as session:
        assert [a.action for a in session.exec(select(AuditEvent))
                if a.action == "entry.log"] == ["entry.log"]


def test_a_replay_of_a_log_never_run_ends_when_it_was_typed(
    s: Service, clock: FrozenClock,
) -> None:
    """Typed at 23:58 clinic time, replayed after midnight: the entry is the evening's."""
    logged = _logged(s.chat_entries.log_here(REQUEST, channel_id="C1")).logged
    assert logged.entry.ended_at == ASKED
    assert logged.entry.started_at == ASKED - timedelta(minutes=12)
    [entry] = _entries(s)
    assert entry.external_ref == "slack:3f2a9c" and entry.source == "slack"


def test_a_replayed_yesterday_is_the_day_before_it_was_typed(s: Service) -> None:
    late = replace(REQUEST, external_ref="slack:late")
    logged = _logged(s.chat_entries.log_here(late, channel_id="C1", yesterday=True)).logged
    started = logged.entry.started_at.astimezone(s.ctx.policy.zone)
    assert (started.date().isoformat(), started.hour) == ("2026-11-18", 9)


def test_the_conversations_patient_path_is_keyed_too(s: Service) -> None:
    """`/rpm log 12m review` in a channel with `/rpm use P-1042`: the same key, one entry."""
    s.current_patient.use(channel_id="C1", user_id=NURSE, patient_ref="P-1042")
    here = replace(REQUEST, patient="", asked_at=None)
    first = _logged(s.chat_entries.log_here(here, channel_id="C1"))
    again = _logged(s.chat_entries.log_here(replace(here, asked_at=ASKED), channel_id="C1"))
    assert again.logged.entry.id == first.logged.entry.id and len(_entries(s)) == 1
