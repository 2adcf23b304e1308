"""The real PaddleOCR engine on provisioned PP-OCRv6 models, reading drawn documents."""

from __future__ import annotations

import io
import itertools
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image
from tests.helpers.drawing import (
    CAUTION_CARD_LINES,
    draw_caution_card,
    draw_page,
    sample_lines,
    word_recall,
    write_pdf,
)

from ocrlive.ocr.engine import Engine
from ocrlive.ocr.models import DET_MODEL_NAME
from ocrlive.ocr.types import EngineConfig, OcrFailure, OcrJob, OcrResult, Progress, TaskCancelled

pytestmark = pytest.mark.engine

CARD_TEXT = "\n".join(CAUTION_CARD_LINES)


@pytest.fixture(scope="session")
def config(engine_config: EngineConfig) -> EngineConfig:
    return engine_config


@pytest.fixture(scope="session")
def engine(config: EngineConfig) -> Engine:
    return Engine(config)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        self.events.append(progress)


@pytest.fixture(scope="module")
def page_read(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[OcrJob, OcrResult, list[Progress], str]:
    """One A4 page read once; several tests look at different sides of it."""
    folder = tmp_path_factory.mktemp("page")
    lines = sample_lines(30)
    path = folder / "letter.png"
    draw_page(lines).save(path)
    job = OcrJob("task-page", str(path), str(folder / "pages"))
    recorder = Recorder()
    result = engine.read(job, recorder)
    return job, result, recorder.events, "\n".join(lines)


def test_reads_a_drawn_a4_page(page_read: tuple[OcrJob, OcrResult, list[Progress], str]) -> None:
    _, result, _, expected = page_read
    (page,) = result.pages
    assert word_recall(expected, result.text) >= 0.9
    assert len(page.lines) >= 28
    assert all(0.0 < line.score <= 1.0 and line.text.strip() for line in page.lines)
    assert result.engine["det_model"] == DET_MODEL_NAME
    assert result.engine["onnxruntime"]


def test_lines_are_in_reading_order_with_boxes_on_the_page(
    page_read: tuple[OcrJob, OcrResult, list[Progress], str],
) -> None:
    _, result, _, expected = page_read
    page = result.pages[0]
    tops = [min(y for _, y in line.box) for line in page.lines]
    assert tops == sorted(tops)
    assert word_recall(expected.splitlines()[0], page.lines[0].text) == 1.0
    for line in page.lines:
        assert len(line.box) == 4
        assert all(0 <= x <= page.width and 0 <= y <= page.height for x, y in line.box)
        (x0, y0), (x1, _), (_, y2), _ = line.box  # clockwise from top-left
        assert x1 > x0 and y2 > y0


def test_page_image_is_written_at_the_size_of_the_result(
    page_read: tuple[OcrJob, OcrResult, list[Progress], str],
) -> None:
    job, result, _, _ = page_read
    with Image.open(Path(job.pages_dir) / "page-1.png") as image:
        assert (image.width, image.height) == (result.pages[0].width, result.pages[0].height)
        assert image.size == (1654, 2339)


def test_progress_goes_through_the_stages_to_100(
    page_read: tuple[OcrJob, OcrResult, list[Progress], str],
) -> None:
    _, result, events, _ = page_read
    stages = [stage for stage, _ in itertools.groupby(e.stage for e in events)]
    assert stages == ["loading", "detecting", "recognizing", "done"]
    values = [e.progress for e in events]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 100.0
    assert all(e.task_id == "task-page" and e.pages_total == 1 for e in events)
    recognizing = [e for e in events if e.stage == "recognizing"]
    total = len(result.pages[0].lines)
    assert recognizing[0].lines_done == 0 and recognizing[-1].lines_done == total
    assert 3 <= len(recognizing) <= 12  # live, but not one message per line
    assert recognizing[1].message == (
        f"Page 1 of 1: recognizing text ({recognizing[1].lines_done} of {total} lines)"
    )


def test_cancel_after_detection_stops_the_read(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "card.png"
    draw_caution_card().save(path)
    seen: list[Progress] = []

    def report(progress: Progress) -> None:
        seen.append(progress)
        if progress.stage == "recognizing":
            raise TaskCancelled()

    with pytest.raises(TaskCancelled):
        engine.read(OcrJob("task-cancel", str(path), str(tmp_path / "pages")), report)
    assert seen[-1].stage == "recognizing" and seen[-1].lines_done == 0
    assert not any(e.stage == "done" for e in seen)


def test_two_page_pdf_gives_two_pages(engine: Engine, tmp_path: Path) -> None:
    lines = sample_lines(8, seed=4)
    half_page = draw_page(lines, size=(1654, 800))
    pdf = write_pdf([draw_caution_card(), half_page], tmp_path / "referral.pdf", dpi=200)
    recorder = Recorder()
    result = engine.read(OcrJob("task-pdf", str(pdf), str(tmp_path / "pages")), recorder)
    assert [page.number for page in result.pages] == [1, 2]
    assert word_recall(CARD_TEXT, result.pages[0].text) >= 0.9
    assert word_recall("\n".join(lines), result.pages[1].text) >= 0.9
    assert abs(result.pages[1].width - 1654) <= 1 and abs(result.pages[1].height - 800) <= 1
    assert {e.page for e in recorder.events if e.stage == "detecting"} == {1, 2}
    assert [e.progress for e in recorder.events] == sorted(e.progress for e in recorder.events)
    assert (tmp_path / "pages" / "page-2.png").is_file()


def test_phone_photo_stored_sideways_is_read_upright(engine: Engine, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer rotates it 90° clockwise
    buffer = io.BytesIO()
    draw_caution_card().rotate(90, expand=True).save(buffer, "JPEG", exif=exif, quality=90)
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(buffer.getvalue())
    result = engine.read(OcrJob("task-photo", str(photo), str(tmp_path / "pages")), Recorder())
    assert word_recall(CARD_TEXT, result.text) >= 0.9
    assert (result.pages[0].width, result.pages[0].height) == (640, 400)


def test_matches_paddleocr_own_pipeline(config: EngineConfig, tmp_path: Path) -> None:
    """With PaddleOCR's box threshold and greedy decoding, the very same output."""
    from paddleocr import PaddleOCR

    engine = Engine(
        replace(config, det_box_thresh=0.6, rec_space_thresh=0.0, page_orientation=False)
    )
    path = tmp_path / "half.png"
    draw_page(sample_lines(10, seed=5), size=(1654, 900)).save(path)
    pipeline = PaddleOCR(
        use_doc_orientation_classify=False,
        use_doc_unwarping=False,
        use_textline_orientation=False,
        engine="onnxruntime",
        engine_config={"intra_op_num_threads": config.threads},
        device="cpu",
        text_detection_model_name=engine.versions()["det_model"],
        text_detection_model_dir=config.det_model_dir,
        text_recognition_model_name=engine.versions()["rec_model"],
        text_recognition_model_dir=config.rec_model_dir,
        text_det_limit_side_len=config.det_limit_side_len,
        text_det_limit_type=config.det_limit_type,
        text_recognition_batch_size=config.rec_batch_size,
    )
    theirs = pipeline.predict(str(path))[0]
    mine = engine.read(OcrJob("task-same", str(path), str(tmp_path / "pages")), Recorder())
    kept = [i for i, text in enumerate(theirs["rec_texts"]) if text.strip()]
    assert len(kept) >= 9
    assert [line.text for line in mine.pages[0].lines] == [theirs["rec_texts"][i] for i in kept]
    assert [line.score for line in mine.pages[0].lines] == [theirs["rec_scores"][i] for i in kept]
    assert [line.box for line in mine.pages[0].lines] == [
        theirs["rec_polys"][i].astype(float).tolist() for i in kept
    ]


def test_unexpected_engine_failure_becomes_engine_error(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "card.png"
    draw_caution_card().save(path)

    def explode(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("out of memory in the runtime")

    monkeypatch.setattr(engine._rec, "predict_iter", explode)
    with pytest.raises(OcrFailure) as caught:
        engine.read(OcrJob("task-boom", str(path), str(tmp_path / "pages")), Recorder())
    assert caught.value.code == "engine_error"
    assert "out of memory" in caught.value.message


def test_unsupported_upload_is_refused_before_any_progress(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("not a pdf")
    recorder = Recorder()
    with pytest.raises(OcrFailure) as caught:
        engine.read(OcrJob("task-bad", str(path), str(tmp_path / "pages")), recorder)
    assert caught.value.code == "unsupported_type"
    assert recorder.events == []
