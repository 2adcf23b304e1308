"""Which way up a page is, from what detection already found.

Sideways (90/270) shows in the shape of the detected boxes: the lines of a
page turned a quarter stand on end. Upside down (180) does not, so a sample of
the line crops goes through the text-line orientation classifier that ships in
the rapidocr wheel (ch_ppocr_mobile_v2.0_cls: 0 or 180 degrees, 48x192 input,
about 0.5 MB), which needs no download. Crops that stand on end are laid down
by rotating them a quarter counter-clockwise (engine.rotate_crop), so on a page
turned 90 degrees counter-clockwise they read upside down and on one turned 270
degrees they read upright: the classifier's answer on them tells 90 from 270.

`page_rotation` returns the clockwise turn that makes the page upright, which
is also how far it had been turned counter-clockwise: 0, 90, 180 or 270.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

TALL = 1.5  # a crop this much taller than wide stands on end (engine.rotate_crop's rule)
# Lines shown to the classifier, the longest first. On the drawn pages of
# scripts/bench_quality.py (8 degradations x 4 turns) the mean P(180) over 12
# lines was right 32 of 32 times, but came within 0.12 of 0.5 (a stamp across
# short table cells); 24 lines cost ~2 ms more and widen the margin.
SAMPLE = 24
# Between these, the classifier is unsure: the recognizer's own confidence on
# a few lines read both ways decides (two recognitions of RECHECK lines).
UNSURE = (0.3, 0.7)
RECHECK = 4
_INPUT = (48, 192)  # the classifier's height and width
CLASSIFIER_FILE = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"

Quad = npt.NDArray[Any]
Crop = npt.NDArray[np.uint8]


def standing_share(quads: Sequence[Quad]) -> float:
    """Share of the boxes' long sides that belong to boxes standing on end."""
    standing = lying = 0.0
    for quad in quads:
        width, height = _extent(quad)
        if height >= TALL * width:
            standing += height
        elif width >= TALL * height:
            lying += width
    total = standing + lying
    return standing / total if total else 0.0


def _extent(quad: Quad) -> tuple[float, float]:
    """Width and height of the box's bounding rectangle (pages are at most slightly skewed)."""
    points = np.asarray(quad, dtype=np.float32)
    return float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1]))


def _stands(quad: Quad) -> bool:
    width, height = _extent(quad)
    return height >= TALL * width


class LineOrientation:
    """The text-line orientation classifier: P(upside down) for a batch of crops."""

    def __init__(self, model_path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def upside_down(self, crops: Sequence[Crop]) -> npt.NDArray[np.float32]:
        if not crops:
            return np.zeros(0, dtype=np.float32)
        batch = np.stack([_normalized(crop) for crop in crops])
        (probs,) = self._session.run(None, {self._input: batch})
        return np.asarray(probs, dtype=np.float32)[:, 1]


def _normalized(crop: Crop) -> npt.NDArray[np.float32]:
    """rapidocr's resize_norm_img (height 48, width by aspect up to 192, right-padded) on
    the line's first 4 heights: squeezed into 192 px, a long line left the classifier
    unsure (mean P(180) 0.40-0.42 upright, 0.78-0.83 flipped on bench_ocr's pages, so the
    recognizer had to check, 13% of a page's time); cut, it said 0.00 and 1.00."""
    height, width = _INPUT
    crop = crop[:, : width // height * crop.shape[0]]
    resized_w = min(width, math.ceil(height * crop.shape[1] / max(1, crop.shape[0])))
    resized = cv2.resize(crop, (resized_w, height), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :, :resized_w] = resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
    return out


def page_rotation(
    quads: Sequence[Quad],
    crops: Sequence[Crop],
    classifier: LineOrientation,
    confidence: Callable[[Sequence[Crop]], float],
) -> int:
    """Clockwise degrees (0, 90, 180, 270) that turn the page upright.

    `crops[i]` is the crop of `quads[i]`, already laid down when it stood on end;
    `confidence` is the recognizer's mean score on some crops.
    """
    sideways = standing_share(quads) > 0.5
    lines = [
        crop
        for quad, crop in zip(quads, crops, strict=True)
        if _stands(quad) == sideways and crop.shape[1] >= 2 * crop.shape[0]
    ]
    lines.sort(key=lambda crop: crop.shape[1], reverse=True)
    flipped = _upside_down(lines, classifier, confidence) if lines else False
    if sideways:
        return 90 if flipped else 270
    return 180 if flipped else 0


def _upside_down(
    lines: Sequence[Crop],
    classifier: LineOrientation,
    confidence: Callable[[Sequence[Crop]], float],
) -> bool:
    flipped = float(np.mean(classifier.upside_down(lines[:SAMPLE])))
    if not UNSURE[0] < flipped < UNSURE[1]:
        return flipped > 0.5
    sample = lines[:RECHECK]
    return confidence([np.ascontiguousarray(np.rot90(c, 2)) for c in sample]) > confidence(sample)
