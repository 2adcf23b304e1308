"""CTC decoding that keeps the gaps between words.

PP-OCRv6 small's recognizer under-predicts the space class: between two words
it often gives the space a modest probability (a few percent) while the blank
wins the frame, so greedy decoding reads "NUMBER OF PAGES" as "NUMBEROF PAGES".
`decode_line` is PaddleOCR's greedy CTC decoding (argmax per frame, repeats
collapsed, blanks dropped) plus one rule: between two emitted characters, when
a frame strictly between them gave the space class at least `space_thresh`, a
space is emitted there. The threshold comes from scripts/bench_quality.py
--sweep (see ocrlive.ocr.engine.REC_SPACE_THRESH).

The line's score stays PaddleOCR's: the mean probability of the characters the
argmax emitted. An inserted space is the decoder's reading of a gap the model
saw but did not pick, not a prediction the model made, so it neither lowers nor
raises the score; scores stay comparable with PaddleOCR's pipeline and with the
score threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from paddlex.inference.models.text_recognition.processors import CTCLabelDecode

BLANK = 0  # PaddleOCR's CTC blank is class 0; the space is the last class


def decode_line(
    indices: npt.NDArray[np.integer[Any]],
    probs: npt.NDArray[np.floating[Any]],
    space_probs: npt.NDArray[np.floating[Any]],
    characters: Sequence[str],
    space_thresh: float,
) -> tuple[str, float]:
    """Text and score of one line from per-frame argmax, its probability and P(space)."""
    keep = indices != BLANK
    keep[1:] &= indices[1:] != indices[:-1]
    frames = np.flatnonzero(keep)
    if frames.size == 0:
        return "", 0.0
    score = float(np.mean(probs[frames]))
    space = len(characters) - 1
    text = [characters[indices[frames[0]]]]
    for before, after in itertools.pairwise(frames):
        char = characters[indices[after]]
        if (
            space_thresh > 0
            and indices[before] != space
            and indices[after] != space
            and after - before > 1
            and float(space_probs[before + 1 : after].max()) >= space_thresh
        ):
            text.append(" ")
        text.append(char)
    return "".join(text), score


class SpaceAwareCTCDecode(CTCLabelDecode):  # type: ignore[misc]
    """PaddleX's CTCLabelDecode with `decode_line`'s gaps; same inputs and outputs.

    Installed in place of the recognizer's `post_op`, the one step that turns
    the model's per-frame probabilities into text.
    """

    def __init__(self, character_list: Sequence[str], space_thresh: float) -> None:
        super().__init__(character_list=list(character_list))
        self.space_thresh = space_thresh

    def __call__(
        self, pred: Any, return_word_box: bool = False, **kwargs: Any
    ) -> tuple[list[Any], list[float]]:
        if return_word_box or self.space_thresh <= 0:
            texts, scores = super().__call__(pred, return_word_box=return_word_box, **kwargs)
            return texts, scores
        preds = np.asarray(pred[0])
        indices = preds.argmax(axis=-1)
        probs = np.take_along_axis(preds, indices[..., None], axis=-1)[..., 0]
        spaces = preds[..., len(self.character) - 1]
        lines = [
            decode_line(indices[i], probs[i], spaces[i], self.character, self.space_thresh)
            for i in range(preds.shape[0])
        ]
        return [text for text, _ in lines], [score for _, score in lines]


def install_space_decoding(recognizer: Any, space_thresh: float) -> None:
    """Swap a paddleocr.TextRecognition's CTC decoder for the space-aware one."""
    predictor = recognizer.paddlex_predictor
    current = predictor.post_op
    if not isinstance(current, CTCLabelDecode):
        raise TypeError(f"the recognizer decodes with {type(current).__name__}, not CTC")
    # CTCLabelDecode prepends the blank and appends the space to the dictionary.
    predictor.post_op = SpaceAwareCTCDecode(current.character[1:-1], space_thresh)
