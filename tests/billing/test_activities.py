import pytest

from billing.activities import (
    ACTIVITIES,
    check_live,
    is_activity,
    is_live_by_default,
    parse_activity,
)
from billing.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "activity"),
    [("review", "review"), ("rev", "review"), ("REVIEW", "review"), ("call", "call"),
     ("phone", "call"), ("coord", "coordination"), ("adjust", "adjustment"),
     ("edu", "education"), ("other", "other"), ("attempt", "attempt"),
     ("no-answer", "attempt"), ("voicemail", "attempt"), ("Voicemail", "attempt")],
)
def test_activities_and_aliases(typed: str, activity: str) -> None:
    assert parse_activity(typed) == activity
    assert is_activity(typed)


def test_unknown_activity_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_activity("dancing")
    for name in ACTIVITIES:
        assert name in str(refused.value)
    assert not is_activity("dancing")


def test_only_calls_are_live_by_default() -> None:
    assert is_live_by_default("call")
    assert not any(is_live_by_default(a) for a in ACTIVITIES if a != "call")


def test_a_call_attempt_is_never_live() -> None:
    """Clinic finding (issue 26 item 4): `2m call tried` was saved as a live call; a call that
    reached no one is an `attempt`, and marking one live is refused."""
    check_live("attempt", False)
    check_live("call", True)
    with pytest.raises(InvalidInput, match="never a live interaction"):
        check_live("attempt", True)
