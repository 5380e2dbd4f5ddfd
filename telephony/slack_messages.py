"""Block Kit for the call DMs and the action ids the Slack bot wires to the service.

Patients appear only as clinic id + initials. Each button's `value` is the call's short id
(C-12): the bot hands it to `service.calls.confirm / add_note` with the clicking user.
"""

from typing import Any

from billing.durations import format_seconds
from service.calls import CallView

CONFIRM_LIVE_ACTION = "call_confirm_live"  # value: call id -> service.calls.confirm(live=True)
REJECT_LIVE_ACTION = "call_reject_live"  # value: call id -> service.calls.confirm(live=False)
ADD_NOTE_ACTION = "call_add_note"  # value: call id -> open a modal, then service.calls.add_note
ACTION_IDS = (CONFIRM_LIVE_ACTION, REJECT_LIVE_ACTION, ADD_NOTE_ACTION)


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text},
                              "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def _duration(call: CallView) -> str:
    return format_seconds(call.duration_seconds or 0)


def unconfirmed_text(call: CallView) -> str:
    return f"Was this a live conversation with {call.patient_label}? ({call.call_id}, " \
           f"{_duration(call)})"


def unconfirmed_message(call: CallView) -> tuple[str, list[dict[str, Any]]]:
    """Yes counts the call as the month's live interaction; No keeps it as an attempt."""
    text = unconfirmed_text(call)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"call_confirm:{call.call_id}", "elements": [
            _button("Yes", CONFIRM_LIVE_ACTION, call.call_id, "primary"),
            _button("No", REJECT_LIVE_ACTION, call.call_id),
            _button("Add note", ADD_NOTE_ACTION, call.call_id),
        ]},
    ]
    return text, blocks


def counted_text(call: CallView) -> str:
    return f"Logged your call with {call.patient_label}: {_duration(call)} live " \
           f"({call.call_id}, entry #{call.entry_id}). What was discussed?"


def counted_message(call: CallView) -> tuple[str, list[dict[str, Any]]]:
    """Auditors ask what was discussed: one button to add a note."""
    text = counted_text(call)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"call_note:{call.call_id}", "elements": [
            _button("Add note", ADD_NOTE_ACTION, call.call_id),
        ]},
    ]
    return text, blocks
