"""The activities staff log, with the aliases people actually type."""

from billing.errors import InvalidInput

REVIEW = "review"
CALL = "call"
COORDINATION = "coordination"
ADJUSTMENT = "adjustment"
EDUCATION = "education"
OTHER = "other"
ATTEMPT = "attempt"

ACTIVITIES: dict[str, str] = {
    REVIEW: "data review",
    CALL: "interactive communication (live audio or video)",
    COORDINATION: "care coordination",
    ADJUSTMENT: "treatment plan adjustment",
    EDUCATION: "patient or caregiver education",
    OTHER: "other treatment management",
    ATTEMPT: "call attempt (no answer or voicemail: time, never a live interaction)",
}

_ALIASES: dict[str, str] = {
    "rev": REVIEW, "data": REVIEW, "data-review": REVIEW, "reviewed": REVIEW,
    "phone": CALL, "calls": CALL, "video": CALL, "telephone": CALL, "live-call": CALL,
    "coord": COORDINATION, "coordinate": COORDINATION, "care-coordination": COORDINATION,
    "adjust": ADJUSTMENT, "adj": ADJUSTMENT, "plan": ADJUSTMENT, "treatment-plan": ADJUSTMENT,
    "edu": EDUCATION, "educ": EDUCATION, "teach": EDUCATION, "teaching": EDUCATION,
    "misc": OTHER,
    "no-answer": ATTEMPT, "noanswer": ATTEMPT, "voicemail": ATTEMPT, "attempted": ATTEMPT,
    "call-attempt": ATTEMPT,
}


def parse_activity(text: str) -> str:
    """The canonical activity for `text`, or a refusal listing the valid ones."""
    folded = (text or "").strip().lower()
    if folded in ACTIVITIES:
        return folded
    if folded in _ALIASES:
        return _ALIASES[folded]
    valid = ", ".join(ACTIVITIES)
    raise InvalidInput(f"Unknown activity '{text}'. Valid activities: {valid}.")


def is_activity(text: str) -> bool:
    """Whether a word names an activity, so grammars can split activity from note."""
    folded = (text or "").strip().lower()
    return folded in ACTIVITIES or folded in _ALIASES


def is_live_by_default(activity: str) -> bool:
    """A `call` is by definition a live conversation; other activities need `--live`."""
    return activity == CALL


def check_live(activity: str, live: bool) -> None:
    """A call attempt reached no one, so it can never be the month's live interaction."""
    if live and activity == ATTEMPT:
        raise InvalidInput("A call attempt (no answer, voicemail) is never a live interaction: "
                           "log it without live, and log the conversation that reached the "
                           "patient as a call.")
