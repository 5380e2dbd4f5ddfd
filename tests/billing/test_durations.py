import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.durations import (
    format_seconds,
    looks_like_duration,
    minutes_floor,
    parse_duration,
)
from billing.errors import InvalidInput

MAX = 240 * 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12m", 720), ("12 min", 720), ("12", 720), ("12 minutes", 720), ("12M", 720),
        ("1h5m", 3900), ("1h 5m", 3900), ("1:05", 3900), ("0:20", 1200), ("90s", 90),
        ("2.5m", 150), ("2.5", 150), ("1h", 3600), ("1 hour 2 min 3 sec", 3723),
        ("  20m  ", 1200), ("19m 59s", 1199), ("1s", 1),
        ("1.01m", 60),  # 60.6 s is floored, never rounded up
        ("240m", MAX), ("4h", MAX),
    ],
)
def test_accepted_forms(text: str, seconds: int) -> None:
    assert parse_duration(text, max_seconds=MAX) == seconds


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"), ("   ", "empty"), ("0", "at least one second"), ("0m", "at least"),
        ("0.5s", "at least"), ("-5m", "positive"), ("241m", "240-minute limit"),
        ("4h1s", "limit"), ("abc", "not a duration"), ("12x", "unknown unit"),
        ("5m5m", "twice"), ("1:75", "not a duration"), ("m12", "not a duration"),
        ("12 m review", "not a duration"),
    ],
)
def test_refusals_name_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_duration(text, max_seconds=MAX)
    assert why in str(refused.value)
    assert "Accepted forms: 12m" in str(refused.value)


@given(st.text(max_size=30))
def test_any_text_is_parsed_or_refused_clearly(text: str) -> None:
    try:
        seconds = parse_duration(text, max_seconds=MAX)
    except InvalidInput as refused:
        assert "Accepted forms" in str(refused)
    else:
        assert 1 <= seconds <= MAX


@given(st.integers(min_value=1, max_value=MAX))
def test_seconds_round_trip_exactly(seconds: int) -> None:
    assert parse_duration(f"{seconds}s", max_seconds=MAX) == seconds
    minutes, rest = divmod(seconds, 60)
    assert parse_duration(f"{minutes}m {rest}s" if minutes and rest else f"{seconds}s",
                          max_seconds=MAX) == seconds


@given(st.integers(min_value=1, max_value=MAX))
def test_decimal_minutes_never_round_up(seconds: int) -> None:
    text = f"{seconds / 60:.4f}m"
    assert parse_duration(text, max_seconds=MAX) <= seconds + 1
    assert parse_duration(f"{seconds // 60}.99m", max_seconds=MAX + 60) < (seconds // 60 + 1) * 60


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 0), (59, 0), (60, 1), (1199, 19),
                                                  (1200, 20), (-5, 0)])
def test_minutes_shown_are_floored(seconds: int, minutes: int) -> None:
    assert minutes_floor(seconds) == minutes


def test_human_durations() -> None:
    assert format_seconds(1199) == "19 min 59 s"
    assert format_seconds(1200) == "20 min"
    assert format_seconds(45) == "45 s"


@pytest.mark.parametrize(("word", "expected"), [("12m", True), ("1:05", True), ("P-1042", False),
                                                ("review", False), ("12", True)])
def test_duration_words_are_told_apart_from_ids(word: str, expected: bool) -> None:
    assert looks_like_duration(word) is expected


@pytest.mark.parametrize(("words", "count"), [
    (["12", "mins", "review"], 2), (["12", "min", "review"], 2), (["1h", "5m", "call"], 2),
    (["12m", "review"], 1), (["12", "review"], 1), (["12", "call"], 1), (["review"], 0),
    (["12", "mins"], 2), ([], 0), (["12", "parsecs"], 1),
])
def test_duration_word_count_joins_a_duration_split_by_spaces(words: list[str],
                                                                count: int) -> None:
    from billing.durations import duration_word_count

    assert duration_word_count(words) == count
