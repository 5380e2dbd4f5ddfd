"""A voice save whose commit lost its answer (PostgreSQL cut mid-commit) is never told "not
saved" when it was saved: the session row moves with the entry in one transaction, so the
menu reads it back and says what happened."""

import pytest
from sqlmodel import select

from store.models import TimeEntry
from tests.bot.test_unconfirmed_save import POSTGRES_ONLY, commit_answer_lost
from tests.telephony.conftest import TwilioApp
from tests.voice.conftest import NURSE_PIN
from tests.voice.phone import Phone


def _entries(app: TwilioApp) -> list[TimeEntry]:
    with app.service.ctx.db.read_session() as session:
        return list(session.exec(select(TimeEntry)))


@POSTGRES_ONLY
@pytest.mark.parametrize("committed", [True, False])
def test_a_lost_commit_answer_on_the_phone_says_saved_or_not_as_it_was(
        menu_app: TwilioApp, committed: bool) -> None:
    call = Phone(menu_app, "+16175550101").dial().press(NURSE_PIN)
    call.press("1").press("1042").press("12").press("1")
    assert "Press 1 to save" in call.said
    with commit_answer_lost(menu_app.service.ctx.db, committed=committed):
        call.press("1")
    if committed:
        assert call.said.startswith("Saved.")
        assert len(_entries(menu_app)) == 1
    else:
        assert call.said.startswith("The system is busy, so that was not saved.")
        assert _entries(menu_app) == []
        call.press("1")
        assert call.said.startswith("Saved.")
    assert len(_entries(menu_app)) == 1
