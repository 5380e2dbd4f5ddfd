"""Telling the staff member on a call what it needs from them, after the call is committed
and off the request path.

Telephony says WHAT to tell (data: which call, which notice) through `CallNotifier`; how it
is said is the Slack side's business (bot/call_dms.py, wired in rpm_logger/app.py), so this
adapter never imports Slack or Block Kit. A failure is logged and never changes the answer
Twilio got: the call is stored.
"""

import logging
from datetime import datetime
from typing import Protocol

from service.calls import CallOutcome, CallView
from service.voice_access import LockNotice, VoiceNotice

log = logging.getLogger("rpm_logger.telephony")


class CallNotifier(Protocol):
    """Sends one notice to the staff member on `call` (`call.staff`); raises when it could not."""

    def ask_if_live(self, call: CallView) -> None:
        """The call may have been a live conversation: ask (Yes counts it, No keeps it as an
        attempt)."""

    def tell_counted(self, call: CallView) -> None:
        """The call counted as the month's live interaction: say so, and ask what was
        discussed."""

    def voice_locked(self, slack_user_id: str, until: datetime) -> None:
        """Wrong voice PINs locked this member's voice access until `until`: tell them (it
        may not have been them) and how it is lifted."""

    def voice_locked_to_admin(self, admin: str, member: str, until: datetime) -> None:
        """Tell admin `admin` that `member`'s voice access is locked until `until`, and how
        to lift it."""

    def voice_paused(self, admin: str, until: datetime, wrong_pins: int) -> None:
        """Tell admin `admin` that the clinic-wide wrong-PIN limit paused every PIN check
        until about `until`."""


def notice_for(outcome: CallOutcome) -> str | None:
    """Which notice this write calls for ("ask_if_live" or "tell_counted"): only when the
    state just became one people act on, and someone is on the call."""
    call = outcome.call
    if not outcome.changed or call.staff is None:
        return None
    if call.state == "unconfirmed":
        return "ask_if_live"
    if call.state == "counted":
        return "tell_counted"
    return None


def send_call_notice(notifier: CallNotifier | None, outcome: CallOutcome) -> bool:
    """Notify the staff member on the call; False (logged) when there is nothing to say, no
    notifier (Slack not configured), or it failed."""
    notice = notice_for(outcome)
    if notice is None or notifier is None:
        return False
    try:
        if notice == "ask_if_live":
            notifier.ask_if_live(outcome.call)
        else:
            notifier.tell_counted(outcome.call)
        return True
    except Exception:  # noqa: BLE001 - the call is stored; a DM is a courtesy
        log.exception("could not notify %s about call %s", outcome.call.staff,
                      outcome.call.call_id)
        return False


def send_voice_lock_notice(notifier: CallNotifier | None, slack_user_id: str,
                           until: datetime) -> bool:
    """After the commit of a PIN check whose verdict says `locked_now`: DM the member. False
    (logged) with no notifier (Slack not configured) or when it failed; the lock stands."""
    if notifier is None:
        return False
    try:
        notifier.voice_locked(slack_user_id, until)
        return True
    except Exception:  # noqa: BLE001 - the lock is committed; a DM is a courtesy
        log.exception("could not tell %s that their voice access is locked", slack_user_id)
        return False


def send_voice_notices(notifier: CallNotifier | None,
                       notices: tuple[VoiceNotice, ...]) -> int:
    """After the commit of a PIN check that started a lock or the clinic-wide pause: DM the
    locked member, and each active admin of either. Each DM is tried on its own (one that
    fails is logged and the others still go); returns how many went."""
    sent = 0
    for notice in notices:
        if isinstance(notice, LockNotice):
            sent += send_voice_lock_notice(notifier, notice.member, notice.until)
        for admin in notice.admins:
            sent += _tell_admin(notifier, admin, notice)
    return sent


def _tell_admin(notifier: CallNotifier | None, admin: str, notice: VoiceNotice) -> bool:
    """One admin's DM of a lock or a pause. False (logged) with no notifier or on failure."""
    if notifier is None:
        return False
    try:
        if isinstance(notice, LockNotice):
            notifier.voice_locked_to_admin(admin, notice.member, notice.until)
        else:
            notifier.voice_paused(admin, notice.until, notice.wrong_pins)
        return True
    except Exception:  # noqa: BLE001 - the lock or pause is committed; a DM is a courtesy
        log.exception("could not tell admin %s of a voice %s", admin,
                      "lock" if isinstance(notice, LockNotice) else "pause")
        return False
