"""Telling staff and admins of a voice-menu lock or pause, after its commit and off the
request path.

Telephony says WHAT to tell through `CallNotifier`; how it is said is the Slack side's
business (bot/call_dms.py, wired in rpm_logger/app.py), so this adapter never imports Slack or
Block Kit. A failure is logged and never changes the answer Twilio got. The DMs about calls
(to confirm one, or that one counted) are not sent from here: they are queued with the call
in its transaction and delivered by the scheduler leader (service/notices.py).
"""

import logging
from datetime import datetime
from typing import Protocol

from service.voice_access import LockNotice, VoiceNotice

log = logging.getLogger("rpm_logger.telephony")


class CallNotifier(Protocol):
    """Sends one notice about the voice menu's PIN checks; raises when it could not."""

    def voice_locked(self, slack_user_id: str, until: datetime) -> None:
        """Wrong voice PINs locked this member's voice access until `until`: tell them (it
        may not have been them) and how it is lifted."""

    def voice_locked_to_admin(self, admin: str, member: str, until: datetime) -> None:
        """Tell admin `admin` that `member`'s voice access is locked until `until`, and how
        to lift it."""

    def voice_paused(self, admin: str, until: datetime, wrong_pins: int) -> None:
        """Tell admin `admin` that the clinic-wide wrong-PIN limit paused every PIN check
        until about `until`."""


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
