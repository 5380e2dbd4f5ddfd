"""Typo suggestions: one ranking for patient ids and `/rpm` commands.

People mistype ids by swapping two neighbours (P-1024 for P-1042) or changing one character;
difflib's ratio ranks those below ids that merely share more digits. The edit distance here
(Damerau-Levenshtein, optimal string alignment) counts a swap of neighbours as one edit, so
those rank first. Pure and small: a few hundred short ids per unknown reference.
"""

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and adjacent transpositions turning a into b."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def edit_kind(a: str, b: str) -> int:
    """How alike two words are beyond their distance, for ranking equal distances: 0 the same
    characters in another order (a swap), 1 the same length (substitutions), 2 a different
    length (insertions or deletions). P-1024 is nearer P-1042 (a swap) than P-102 (a
    deletion), though each is one edit away."""
    if len(a) != len(b):
        return 2
    return 0 if sorted(a) == sorted(b) else 1


def closest(word: str, candidates: Iterable[str], *, limit: int = 3) -> list[str]:
    """Up to `limit` candidates within a few edits of `word` (case-insensitive), nearest
    first: by edit distance, then swaps before substitutions before insertions or deletions
    (edit_kind); further ties keep the candidates' order. Allowed edits grow with the word:
    1 for short words, 2 for a 5-character id, never more than 3."""
    key = word.strip().casefold()
    allowed = min(3, max(1, len(key) * 2 // 5))
    scored = [(edit_distance(key, c.casefold()), edit_kind(key, c.casefold()), n, c)
              for n, c in enumerate(candidates)]
    return [c for d, _, _, c in sorted(scored) if d <= allowed][:limit]
