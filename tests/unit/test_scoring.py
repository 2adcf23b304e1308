"""The quality benchmark's measures: edit distance against the textbook recurrence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tests.helpers.scoring import Score, edit_distance


def textbook(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


@given(st.text("abc é", max_size=12), st.text("abc é", max_size=12))
def test_edit_distance_is_levenshtein(a: str, b: str) -> None:
    assert edit_distance(a, b) == textbook(a, b)


def test_recall_precision_and_cer_of_a_joined_word() -> None:
    score = Score().add("Number of pages: 2", "Numberof pages 2")
    assert score.recall == 2 / 4  # "pages", "2"
    assert score.precision == 2 / 3
    assert score.cer == 2 / len("Number of pages: 2")  # one space, one colon
