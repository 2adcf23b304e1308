"""Space-aware CTC decoding on crafted recognizer outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paddlex.inference.models.text_recognition.processors import CTCLabelDecode

from ocrlive.ocr.decoding import SpaceAwareCTCDecode, decode_line

ALPHABET = list("abcdefghijklmnopqrstuvwxyz")
CLASSES = ["blank", *ALPHABET, " "]  # CTCLabelDecode's layout: blank + dictionary + space
SPACE = len(CLASSES) - 1
Frames = npt.NDArray[np.float32]


def frames(*steps: tuple[str, float, float]) -> Frames:
    """Softmax rows: each step is (winner, its probability, probability of the space).

    The winner is a letter, "_" for the blank or " " for the space; what is left
    goes to the blank (or, when the blank wins, to the letter "x").
    """
    rows = np.zeros((len(steps), len(CLASSES)), dtype=np.float32)
    for row, (winner, p, space) in zip(rows, steps, strict=True):
        index = {"_": 0, " ": SPACE}.get(winner, CLASSES.index(winner) if winner in ALPHABET else 0)
        row[index] = p
        if index != SPACE:
            row[SPACE] = space
        rest = 1.0 - row.sum()
        row[0 if index != 0 else CLASSES.index("x")] += rest
    return rows


def decode(rows: Frames, thresh: float) -> tuple[str, float]:
    decoder = SpaceAwareCTCDecode(ALPHABET, thresh)
    texts, scores = decoder([rows[None, ...]])
    return texts[0], scores[0]


# "of" then "pages", the gap's blank frame giving the space 0.07.
NEAR_MISS = frames(
    ("o", 0.9, 0.0),
    ("f", 0.8, 0.01),
    ("_", 0.9, 0.07),
    ("p", 0.95, 0.0),
    ("a", 0.9, 0.0),
    ("_", 0.99, 0.0),
    ("g", 0.9, 0.0),
    ("e", 0.9, 0.0),
    ("s", 0.7, 0.0),
)


def test_a_near_miss_space_between_two_words_is_emitted() -> None:
    text, score = decode(NEAR_MISS, 0.05)
    assert text == "of pages"
    # The score is the mean over the characters the argmax chose: the space adds nothing.
    assert score == pytest.approx(np.mean([0.9, 0.8, 0.95, 0.9, 0.9, 0.9, 0.7]))


def test_below_the_threshold_the_words_stay_joined() -> None:
    assert decode(NEAR_MISS, 0.08)[0] == "ofpages"


def test_zero_threshold_is_paddleocr_own_decoding() -> None:
    ours = decode(NEAR_MISS, 0.0)
    theirs = CTCLabelDecode(character_list=ALPHABET)([NEAR_MISS[None, ...]])
    assert ours == (theirs[0][0], theirs[1][0]) == ("ofpages", ours[1])


def test_a_space_the_argmax_chose_is_kept_once() -> None:
    rows = frames(("a", 0.9, 0.0), (" ", 0.6, 0.0), ("_", 0.9, 0.3), ("b", 0.9, 0.0))
    assert decode(rows, 0.05)[0] == "a b"


def test_no_space_before_the_first_or_after_the_last_character() -> None:
    rows = frames(("_", 0.8, 0.2), ("a", 0.9, 0.0), ("b", 0.9, 0.0), ("_", 0.8, 0.2))
    assert decode(rows, 0.05)[0] == "ab"


def test_a_doubled_letter_split_by_a_blank_gets_no_space_without_evidence() -> None:
    rows = frames(("l", 0.9, 0.0), ("_", 0.95, 0.01), ("l", 0.9, 0.0))
    assert decode(rows, 0.05)[0] == "ll"


def test_a_batch_decodes_each_line_on_its_own() -> None:
    other = frames(*[("z", 0.6, 0.0)] * len(NEAR_MISS))
    decoder = SpaceAwareCTCDecode(ALPHABET, 0.05)
    texts, scores = decoder([np.stack([NEAR_MISS, other])])
    assert texts == ["of pages", "z"]
    assert scores[1] == pytest.approx(0.6)


def test_an_empty_line_reads_empty_with_score_zero() -> None:
    rows = frames(("_", 0.9, 0.06), ("_", 0.9, 0.2))
    assert decode(rows, 0.05) == ("", 0.0)


_step = st.tuples(
    st.sampled_from(["_", " ", *ALPHABET[:4]]),
    st.floats(0.55, 0.95),
    st.floats(0.0, 0.05),
)


@given(st.lists(_step, min_size=1, max_size=30), st.floats(0.01, 0.5))
def test_only_spaces_are_added_and_the_score_is_unchanged(
    steps: list[tuple[str, float, float]], thresh: float
) -> None:
    rows = frames(*steps)
    plain_text, plain_score = decode(rows, 0.0)
    text, score = decode(rows, thresh)
    assert text.replace(" ", "") == plain_text.replace(" ", "")
    assert score == plain_score
    assert text.count(" ") >= plain_text.count(" ")
    assert not text.startswith(" ") or plain_text.startswith(" ")


def _argmax_inputs(rows: Frames) -> tuple[Any, Any, Any]:
    indices = rows.argmax(axis=-1)
    return indices, rows.max(axis=-1), rows[:, SPACE]


def test_decode_line_reads_per_frame_arrays() -> None:
    text, _ = decode_line(*_argmax_inputs(NEAR_MISS), CLASSES, 0.05)
    assert text == "of pages"
