"""The real engine on word gaps and on pages that arrive sideways or upside down."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from tests.helpers.drawing import draw_page, sample_lines, word_recall
from tests.helpers.forms import SENTENCES, TIGHT_GAP, draw_lines, turned
from tests.helpers.scoring import Score

from ocrlive.ocr.engine import Engine
from ocrlive.ocr.types import EngineConfig, OcrJob, OcrResult, Progress

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def engine(engine_config: EngineConfig) -> Engine:
    return Engine(engine_config)


@pytest.fixture(scope="module")
def greedy_engine(engine_config: EngineConfig) -> Engine:
    """PaddleOCR's own decoding: no gaps read from near-miss spaces."""
    return Engine(replace(engine_config, rec_space_thresh=0.0, page_orientation=False))


def _ignore(progress: Progress) -> None:
    pass


def read(engine: Engine, image: Image.Image, folder: Path, name: str) -> OcrResult:
    path = folder / f"{name}.png"
    image.save(path)
    return engine.read(OcrJob(name, str(path), str(folder / name)), _ignore)


def test_tightly_set_words_are_read_with_their_gaps(
    engine: Engine, greedy_engine: Engine, tmp_path: Path
) -> None:
    page = draw_lines(list(SENTENCES[:10]), gap=TIGHT_GAP)
    image, expected = page.image, page.text
    ours = read(engine, image, tmp_path, "tight").text
    greedy = read(greedy_engine, image, tmp_path, "tight-greedy").text
    ours_score, greedy_score = Score().add(expected, ours), Score().add(expected, greedy)
    # Measured: 1.000 / 1.000 / CER 0.000 against greedy decoding's 0.938 / 0.968 / 0.005
    # ("referralincluding", "patientto", "liverfunction", "afollow").
    assert ours_score.recall >= 0.98 and ours_score.precision >= 0.98
    assert ours_score.recall >= greedy_score.recall + 0.04
    assert ours_score.cer < greedy_score.cer
    # The same letters: only spaces differ between the two decodings.
    assert ours.replace(" ", "") == greedy.replace(" ", "")


@pytest.fixture(scope="module")
def upright(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Image.Image, OcrResult]:
    lines = sample_lines(8, seed=11)
    image = draw_page(lines, size=(1654, 900))
    result = read(engine, image, tmp_path_factory.mktemp("upright"), "upright")
    assert result.pages[0].rotation == 0
    assert word_recall("\n".join(lines), result.text) >= 0.9
    return image, result


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_turned_page_reads_as_upright(
    engine: Engine, upright: tuple[Image.Image, OcrResult], turn: int, tmp_path: Path
) -> None:
    image, expected = upright
    result = read(engine, turned(image, turn), tmp_path, f"turned-{turn}")
    (page,), (want,) = result.pages, expected.pages
    assert page.rotation == turn
    assert [line.text for line in page.lines] == [line.text for line in want.lines]
    assert [line.box for line in page.lines] == [line.box for line in want.lines]
    assert (page.width, page.height) == (want.width, want.height) == image.size
    # The stored page is the upright one, so the viewer's boxes land on its text.
    with Image.open(tmp_path / f"turned-{turn}" / "page-1.png") as stored:
        assert ImageChops.difference(stored.convert("RGB"), image).getbbox() is None
