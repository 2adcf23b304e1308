"""Page orientation from box shapes and line-classifier votes (classifier stubbed here;
the real one reads drawn pages in tests/integration/test_reading_real.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from ocrlive.ocr import orientation
from ocrlive.ocr.orientation import page_rotation, standing_share


def box(x: float, y: float, w: float, h: float) -> Any:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)


def crop_of(quad: Any) -> Any:
    w, h = np.ptp(quad[:, 0]), np.ptp(quad[:, 1])
    w, h = (h, w) if h >= 1.5 * w else (w, h)  # laid down as the engine does
    return np.zeros((int(h), int(w), 3), dtype=np.uint8)


class Stub:
    def __init__(self, p: float) -> None:
        self.p = p
        self.seen = 0

    def upside_down(self, crops: Sequence[Any]) -> Any:
        self.seen += len(crops)
        return np.full(len(crops), self.p, dtype=np.float32)


LYING = [box(100, 100 + 60 * i, 600, 40) for i in range(10)]
STANDING = [box(100 + 60 * i, 100, 40, 600) for i in range(10)]


def no_recheck(crops: Sequence[Any]) -> float:
    raise AssertionError("the classifier was sure; nothing should be read again")


@pytest.mark.parametrize(
    ("quads", "p", "expected"),
    [(LYING, 0.1, 0), (LYING, 0.9, 180), (STANDING, 0.9, 90), (STANDING, 0.1, 270)],
)
def test_box_shapes_and_classifier_votes_give_the_turn(
    quads: list[Any], p: float, expected: int
) -> None:
    crops = [crop_of(q) for q in quads]
    assert page_rotation(quads, crops, Stub(p), no_recheck) == expected  # type: ignore[arg-type]


def test_a_few_standing_labels_do_not_turn_an_upright_page() -> None:
    quads = [*LYING, box(20, 100, 30, 200), box(20, 400, 30, 200)]
    assert standing_share(quads) < 0.1
    crops = [crop_of(q) for q in quads]
    assert page_rotation(quads, crops, Stub(0.2), no_recheck) == 0  # type: ignore[arg-type]


def test_square_boxes_and_an_empty_page_stay_as_they_are() -> None:
    squares = [box(100 * i, 100, 40, 40) for i in range(5)]
    stub = Stub(0.9)
    assert page_rotation(squares, [crop_of(q) for q in squares], stub, no_recheck) == 0  # type: ignore[arg-type]
    assert page_rotation([], [], stub, no_recheck) == 0  # type: ignore[arg-type]
    assert stub.seen == 0  # nothing to vote on: no classifier call


def test_only_the_longest_lines_are_shown_to_the_classifier() -> None:
    quads = [box(100, 60 * i, 200 + 20 * i, 40) for i in range(40)]
    stub = Stub(0.1)
    page_rotation(quads, [crop_of(q) for q in quads], stub, no_recheck)  # type: ignore[arg-type]
    assert stub.seen == orientation.SAMPLE


def test_an_unsure_classifier_defers_to_the_recognizer_reading_both_ways() -> None:
    crops = [crop_of(q) for q in LYING]
    for crop in crops:
        crop[:, : crop.shape[1] // 2] = 255  # the left half lit: a flipped crop is lit right

    def confidence(sample: Sequence[Any]) -> float:
        assert len(sample) == orientation.RECHECK
        return float(np.mean([c[:, -1].mean() for c in sample]) / 255)  # "reads" lit-right

    assert page_rotation(LYING, crops, Stub(0.5), confidence) == 180  # type: ignore[arg-type]
    lit_right = [np.ascontiguousarray(np.rot90(c, 2)) for c in crops]
    assert page_rotation(LYING, lit_right, Stub(0.5), confidence) == 0  # type: ignore[arg-type]
