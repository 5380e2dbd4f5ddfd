"""Slack DMs about calls, sent after the call is committed and off the request path.

A Slack failure is logged and never changes the answer Twilio got: the call is stored.
"""

import logging

from rpm_logger.settings import Settings
from rpm_logger.slack_client import make_web_client
from service.calls import CallOutcome
from telephony import slack_messages

log = logging.getLogger("rpm_logger.telephony")


def dm_for(outcome: CallOutcome) -> tuple[str, list[dict]] | None:
    """Which DM this write calls for: only when the state just became one people act on."""
    call = outcome.call
    if not outcome.changed or call.staff is None:
        return None
    if call.state == "unconfirmed":
        return slack_messages.unconfirmed_message(call)
    if call.state == "counted":
        return slack_messages.counted_message(call)
    return None


def send_call_dm(settings: Settings, outcome: CallOutcome) -> bool:
    """DM the staff member on the call; False (logged) when Slack is off or failed."""
    message = dm_for(outcome)
    if message is None or not settings.slack_bot_token:
        return False
    text, blocks = message
    try:
        client = make_web_client(settings)
        channel = client.conversations_open(users=outcome.call.staff)["channel"]["id"]
        client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return True
    except Exception:  # noqa: BLE001 - the call is stored; a DM is a courtesy
        log.exception("could not DM %s about call %s", outcome.call.staff, outcome.call.call_id)
        return False
