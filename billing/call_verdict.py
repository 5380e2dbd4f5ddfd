"""Whether a call leg counts: a pure function of the leg, its parent, its children and who
its numbers belong to (README "Telephony", issue #4).

- Only a finished, answered, human conversation counts; machines, fax, busy, no-answer,
  failed and canceled legs are attempts (kept, never minutes).
- A leg we placed to a patient counts with AnsweredBy=human; unknown or missing AnsweredBy
  makes it *unconfirmed* until the staff member says it was live.
- A leg placed to staff by the clinic's `/incoming` bridge counts only once the staff member
  accepted the screening prompt (so a staff voicemail can never take it).
- A <Dial> bridge has a parent and a child leg: the conversation is counted once, on the
  child; the parent is a `leg`.
- Calls shorter than the live floor never count.
- No patient: `unmatched`; no staff: `unclaimed`.
"""

from collections.abc import Sequence
from typing import Protocol

FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
ATTEMPT_STATUSES = ("busy", "no-answer", "failed", "canceled")
INTERMEDIATE_STATUSES = ("queued", "initiated", "ringing", "in-progress")
KNOWN_STATUSES = FINAL_STATUSES + INTERMEDIATE_STATUSES
# states a later fact (attach, claim, confirm, a parent leg) may still change
OPEN_STATES = ("in_progress", "unmatched", "unclaimed", "unconfirmed")
# a staff member calling the clinic's voice menu (issue 15): not a conversation with a
# patient, never counted, never unmatched; settled from the first request
MENU_STATE = "menu"

Verdict = tuple[str, str | None]  # (state, reason)


class Leg(Protocol):
    """What the verdict reads of a call leg (the stored call, or any object alike)."""

    @property
    def status(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def direction(self) -> str | None: ...
    @property
    def answered_by(self) -> str | None: ...
    @property
    def duration_seconds(self) -> int | None: ...
    @property
    def bridged(self) -> bool: ...
    @property
    def screened(self) -> str | None: ...
    @property
    def confirmed_by(self) -> str | None: ...
    @property
    def patient_id(self) -> int | None: ...
    @property
    def staff_id(self) -> int | None: ...
    @property
    def source(self) -> str: ...


def settled(leg: Leg) -> bool:
    """Counted, attempt, short, leg, not_live, refused, after_close: nothing changes it."""
    return leg.state not in OPEN_STATES


def verdict(leg: Leg, *, parent: Leg | None, children: Sequence[object] | bool,
            answered_staff_kind: str | None, caller_is_staff: bool,
            min_live_seconds: int) -> Verdict:
    """The leg's state and why.

    `children`: the legs naming this one as parent (or just whether there are any);
    `answered_staff_kind`: how its To number is a staff member's (phone, twilio_number,
    client) or None; `caller_is_staff`: its From number is a staff member's.
    """
    if leg.status not in FINAL_STATUSES:
        return "in_progress", None
    if leg.bridged or children:
        return "leg", "bridged: the conversation is on the dialed leg"
    if parent is not None and parent.state == MENU_STATE:
        return "leg", "dialed from the staff voice menu (0: a person), not a patient call"
    if parent is not None and parent.state == "counted":
        return "leg", "the conversation was counted on the parent leg"
    if leg.status in ATTEMPT_STATUSES:
        return "attempt", leg.status
    answered_by = (leg.answered_by or "").lower()
    if answered_by.startswith("machine") or answered_by == "fax":
        return "attempt", f"answered by {answered_by}"
    seconds = leg.duration_seconds or 0
    if seconds < min_live_seconds or seconds <= 0:
        return "short", f"{seconds} s is under the {min_live_seconds} s of a live conversation"
    who = _answering(leg, parent, answered_by, answered_staff_kind, caller_is_staff)
    if who is not None:
        return who
    if leg.patient_id is None:
        return "unmatched", "no patient or caregiver has this number"
    if leg.staff_id is None:
        return "unclaimed", "no staff member on this call"
    return "counted", None


def _answering(leg: Leg, parent: Leg | None, answered_by: str,
               answered_staff_kind: str | None, caller_is_staff: bool) -> Verdict | None:
    """Who picked up this leg: a person on our side, a patient, or something else."""
    placed_by_us = (leg.direction or "").startswith("outbound")
    # a bridge rang our side: a staff member, or (an unknown caller) the clinic's fallback
    # number, where a person pressing 1 at the whisper is who answered
    if placed_by_us and (answered_staff_kind is not None or screening_expected(parent)):
        if answered_staff_kind == "client" or leg.screened == "accepted":
            return None  # a client has no voicemail; "accepted" = pressed 1
        if leg.screened == "refused" or screening_expected(parent):
            return "attempt", "the staff member did not accept the call (screening)"
        return None
    if placed_by_us:  # a leg we placed to the patient: the machine detector decides
        if answered_by == "human" or leg.confirmed_by:
            return None
        return "unconfirmed", "no answering-machine verdict: the staff member confirms"
    if caller_is_staff:
        # a staff phone or client calling in to reach a patient: Twilio <Dial>s the
        # patient on a child leg, which carries (and is judged on) the conversation
        why = "a staff member's outgoing call: the conversation is on the dialed leg"
        if not leg.direction:  # say so: the billing office may want to look at it
            why = f"Twilio sent no Direction: from a staff number, so {why}"
        return "leg", why
    return None  # the patient called a staff Twilio number/client, or nobody on staff


def way(first_leg_direction: str | None, *, caller_is_staff: bool) -> str:
    """Which way a call went for the clinic, read off the bridge's first leg: the dialed leg
    of a bridge is always Twilio's outbound-dial, even when a patient called the clinic.
    A staff member's phone or browser client calling in is the clinic calling out."""
    if not first_leg_direction:
        return "unknown"
    if first_leg_direction == "inbound" and not caller_is_staff:
        return "inbound"
    return "outbound"


def screening_expected(parent: Leg | None) -> bool:
    """Legs our /incoming bridge dialed carry a screening prompt."""
    return parent is not None and parent.bridged and parent.source == "incoming"
