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
