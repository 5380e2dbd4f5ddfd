"""The one typo ranking (Damerau-Levenshtein): patient ids and `/rpm` commands use it."""

import pytest

from service.spelling import closest, edit_distance


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("P-1042", "P-1042", 0),
    ("P-1024", "P-1042", 1),  # adjacent transposition: one edit
    ("P-1024", "P-1047", 2),
    ("stauts", "status", 1),
    ("lgo", "log", 1),
    ("log", "logs", 1),
    ("", "abc", 3),
    ("ca", "abc", 3),  # optimal string alignment: no edit of a transposed pair
])
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_closest_ranks_by_distance_then_keeps_the_candidates_order() -> None:
    ids = ["P-1045", "P-1046", "P-1047", "P-1042"]
    assert closest("P-1024", ids) == ["P-1042", "P-1045", "P-1046"]
    assert closest("p-1024", ids, limit=1) == ["P-1042"]
    assert closest("Z", ids) == []
    assert closest("staus", ["status", "start", "stop"]) == ["status", "start"]


def test_a_swap_ranks_before_a_substitution_before_a_deletion() -> None:
    """Billing office finding 10: `log P-1024` suggested P-102, P-104, P-1042."""
    ids = ["P-102", "P-104", "P-1034", "P-1042"]
    assert closest("P-1024", ids) == ["P-1042", "P-1034", "P-102"]
