"""PaddleOCR text detection and recognition, page by page, with live progress.

One `Engine` lives in each worker process and is not thread-safe. It runs the
same steps as PaddleOCR's OCR pipeline (without unwarping and text-line
orientation): detect quads, turn the page upright when it arrived sideways or
upside down (ocrlive.ocr.orientation, then detect again), sort the quads into
reading order, crop each with a perspective warp, recognize the crops sorted
by aspect ratio in batches, and keep texts above the score threshold. Two
settings differ from the pipeline's, by measurement: the detection box
threshold, and the CTC decoding, which keeps word gaps the model saw without
choosing them (ocrlive.ocr.decoding). Detection and recognition run as
separate calls so each page can report its progress.

Threads: ONNX Runtime's intra-op pool (or Paddle's cpu_threads) and OpenCV are
sized from `EngineConfig.threads` here, but OpenMP/BLAS pools are sized when
their libraries load: the worker process must set OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS... (ocrlive.ocr.worker.thread_env) in
os.environ BEFORE importing this module, numpy, cv2 or paddle.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt
import yaml
from PIL import Image

from ocrlive.events import Stage, TaskErrorCode

from .decoding import install_space_decoding
from .documents import Source, open_document
from .models import classifier_path
from .orientation import CLASSIFIER_FILE, LineOrientation, page_rotation
from .types import (
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrLine,
    OcrPage,
    OcrResult,
    PageJob,
    Progress,
    ProgressSink,
    ReadSettings,
    TaskCancelled,
)

# PaddleOCR's OCR pipeline defaults (paddlex/configs/pipelines/OCR.yaml); its
# box threshold (0.6) and greedy decoding are replaced by EngineConfig's
# det_box_thresh and rec_space_thresh (ocrlive.ocr.decoding).
DET_THRESH = 0.3
DET_UNCLIP_RATIO = 1.5
DET_MAX_SIDE_LIMIT = 4000
REC_SCORE_THRESH = 0.0
# Share of a page's progress spent before detection starts and before recognition starts.
_DETECT_AT = 0.05
_RECOGNIZE_AT = 0.40
# At most this many recognition reports a page: each is stored and broadcast.
_RECOGNIZE_REPORTS = 10
_SAME_LINE_PX = 10  # PaddleOCR's SortQuadBoxes tolerance

T = TypeVar("T")
BgrImage = npt.NDArray[np.uint8]
Quad = npt.NDArray[Any]


class Engine:
    """PaddleOCR detection + recognition models, loaded once per process."""

    def __init__(self, config: EngineConfig) -> None:
        for folder in (config.det_model_dir, config.rec_model_dir):
            if not (Path(folder) / "inference.yml").is_file():
                raise FileNotFoundError(
                    f"No PaddleOCR model in {folder}; run scripts/provision_models.py"
                )
        self.config = config
        cv2.setNumThreads(max(1, config.threads))
        from paddleocr import TextDetection, TextRecognition

        common = _runtime_args(config)
        det_name = model_name(config.det_model_dir, config.det_model_name)
        rec_name = model_name(config.rec_model_dir, config.rec_model_name)
        self._det = TextDetection(
            model_name=det_name,
            model_dir=config.det_model_dir,
            limit_side_len=config.det_limit_side_len,
            limit_type=config.det_limit_type,
            thresh=DET_THRESH,
            box_thresh=config.det_box_thresh,
            unclip_ratio=DET_UNCLIP_RATIO,
            **common,
        )
        self._rec = TextRecognition(model_name=rec_name, model_dir=config.rec_model_dir, **common)
        install_space_decoding(self._rec, config.rec_space_thresh)
        # Loaded now when the server turns pages (a missing model fails at start), else
        # the first time a re-run asks for it.
        self._classifier = (
            LineOrientation(classifier_path(CLASSIFIER_FILE), config.threads)
            if config.page_orientation
            else None
        )
        self._active = config  # the settings of the document being read
        self._versions = _versions(config.engine, det_name, rec_name)

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    @contextlib.contextmanager
    def _settings(self, settings: ReadSettings) -> Iterator[EngineConfig]:
        """The server's settings with a re-run's changes, for one document: detection's
        are passed with each call, the decoder's space threshold is set and put back
        (a worker reads one document at a time)."""
        self._active = settings.applied(self.config)
        decoder = self._rec.paddlex_predictor.post_op
        decoder.space_thresh = self._active.rec_space_thresh
        try:
            yield self._active
        finally:
            self._active = self.config
            decoder.space_thresh = self.config.rec_space_thresh

    def _orientation(self) -> LineOrientation | None:
        """The line classifier, loaded the first time a document wants pages turned."""
        if not self._active.page_orientation:
            return None
        if self._classifier is None:
            self._classifier = LineOrientation(
                classifier_path(CLASSIFIER_FILE), self.config.threads
            )
        return self._classifier

    def read(self, job: OcrJob, report: ProgressSink) -> OcrResult:
        """Read every page of `job.path`; `report` may raise TaskCancelled."""
        with self._settings(job.settings):
            return _guarded(lambda: self._read(job, report))

    def read_page(
        self, document: Source, job: PageJob, pages_dir: Path, report: ProgressSink
    ) -> OcrPage:
        """Read one page of `document` (the same steps as `read`), its image into
        `pages_dir`; progress is reported as a share of the whole document."""
        with self._settings(job.settings):
            return _guarded(lambda: self._read_one(document, job, pages_dir, report))

    def _read_one(
        self, document: Source, job: PageJob, pages_dir: Path, report: ProgressSink
    ) -> OcrPage:
        cfg = self.config
        with open_document(
            document, pdf_dpi=cfg.pdf_dpi, max_pages=cfg.max_pages, max_pixels=cfg.max_pixels,
            read_pixels=cfg.read_pixels,
        ) as opened:  # fmt: skip
            tracker = _Tracker(job.task_id, job.pages_total, report)
            tracker.loading_page(job.number)
            return self._read_page(job.number, opened.page(job.number), pages_dir, tracker)

    def _read(self, job: OcrJob, report: ProgressSink) -> OcrResult:
        cfg = self.config
        with open_document(
            job.path,
            pdf_dpi=cfg.pdf_dpi,
            max_pages=cfg.max_pages,
            max_pixels=cfg.max_pixels,
            read_pixels=cfg.read_pixels,
        ) as document:
            tracker = _Tracker(job.task_id, document.page_count, report)
            tracker.loading_document()
            pages_dir = Path(job.pages_dir)
            pages_dir.mkdir(parents=True, exist_ok=True)
            images = document.pages()
            pages = []
            for number in range(1, document.page_count + 1):
                tracker.loading_page(number)  # before decoding: a PDF page renders now
                pages.append(self._read_page(number, next(images), pages_dir, tracker))
        tracker.done(sum(len(page.lines) for page in pages))
        return OcrResult(pages=pages, engine=self.versions())

    def _read_page(
        self, number: int, image: Image.Image, pages_dir: Path, tracker: _Tracker
    ) -> OcrPage:
        tracker.detecting(number)
        image, rotation, (quads, crops) = self._upright(image)
        # Compression level 1: several times faster than the default, a little larger.
        image.save(pages_dir / f"page-{number}.png", compress_level=1)
        tracker.recognizing(number, 0, len(crops))
        texts = self._recognize(crops, lambda done: tracker.recognizing(number, done, len(crops)))
        lines = [
            OcrLine(text=text, score=score, box=quad.astype(float).tolist())
            for quad, (text, score) in zip(quads, texts, strict=True)
            if text.strip() and score >= REC_SCORE_THRESH
        ]
        return OcrPage(number, image.width, image.height, lines, rotation)

    def _upright(
        self, image: Image.Image
    ) -> tuple[Image.Image, int, tuple[list[Quad], list[BgrImage]]]:
        """The page turned upright, the clockwise turn, and its detected lines."""
        found = self._detect(_bgr(image))
        rotation, classifier = 0, self._orientation()
        if classifier:
            rotation = page_rotation(*found, classifier, self._confidence)
        if rotation:
            # Detected again on the turned page, not the boxes turned: the page then
            # reads exactly as if it had arrived upright.
            image = image.transpose(_CLOCKWISE[rotation])
            found = self._detect(_bgr(image))
        return image, rotation, found

    def _detect(self, bgr: BgrImage) -> tuple[list[Quad], list[BgrImage]]:
        cfg = self._active
        result = next(iter(self._det.predict_iter(
            bgr, max_side_limit=DET_MAX_SIDE_LIMIT, limit_side_len=cfg.det_limit_side_len,
            limit_type=cfg.det_limit_type, box_thresh=cfg.det_box_thresh,
        )))  # fmt: skip
        quads, crops = [], []
        for quad in sort_quads(result["dt_polys"]):
            crop = minarea_rect_crop(bgr, quad)
            if crop.size > 0:
                quads.append(quad)
                crops.append(crop)
        return quads, crops

    def _confidence(self, crops: Sequence[BgrImage]) -> float:
        scores = [score for _, score in self._recognize(crops, lambda _: None)]
        return float(np.mean(scores)) if scores else 0.0

    def _recognize(
        self, crops: Sequence[BgrImage], on_batch: Callable[[int], None]
    ) -> list[tuple[str, float]]:
        """Texts and scores in the order of `crops`."""
        # Like the pipeline: similar widths share a batch, so less padding.
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        texts: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        size = max(1, self.config.rec_batch_size)
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            results = self._rec.predict_iter([crops[i] for i in batch], batch_size=size)
            for index, result in zip(batch, results, strict=True):
                texts[index] = (str(result["rec_text"]), float(result["rec_score"]))
            on_batch(start + len(batch))
        return texts


def _guarded(read: Callable[[], T]) -> T:
    """OcrFailure and TaskCancelled as they are; anything else is the engine's error."""
    try:
        return read()
    except (OcrFailure, TaskCancelled):
        raise
    except Exception as exc:
        raise OcrFailure(TaskErrorCode.ENGINE_ERROR, f"The OCR engine failed: {exc!r}") from exc


_CLOCKWISE = {
    90: Image.Transpose.ROTATE_270,  # PIL turns counter-clockwise
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def _bgr(image: Image.Image) -> BgrImage:
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def sort_quads(quads: Sequence[Quad]) -> list[Quad]:
    """Top-to-bottom, then left-to-right within ~10 px (PaddleOCR's SortQuadBoxes)."""
    boxes = sorted(quads, key=lambda q: (q[0][1], q[0][0]))
    for i in range(len(boxes) - 1):
        for j in range(i, -1, -1):
            same_line = abs(boxes[j + 1][0][1] - boxes[j][0][1]) < _SAME_LINE_PX
            if not (same_line and boxes[j + 1][0][0] < boxes[j][0][0]):
                break
            boxes[j], boxes[j + 1] = boxes[j + 1], boxes[j]
    return boxes


def minarea_rect_crop(image: BgrImage, quad: Quad) -> BgrImage:
    """The quad's minimum-area rectangle, straightened (get_minarea_rect_crop)."""
    rect = cv2.minAreaRect(np.asarray(quad).astype(np.int32))
    points = sorted(cv2.boxPoints(rect).tolist(), key=lambda p: p[0])
    left = (points[0], points[1]) if points[1][1] > points[0][1] else (points[1], points[0])
    right = (points[2], points[3]) if points[3][1] > points[2][1] else (points[3], points[2])
    # top-left, top-right, bottom-right, bottom-left
    box = np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)
    return rotate_crop(image, box)


def rotate_crop(image: BgrImage, box: npt.NDArray[np.float32]) -> BgrImage:
    """Perspective-warp four corners to an upright crop (get_rotate_crop_image)."""
    width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    if width < 1 or height < 1:  # OpenCV would read a (0, 0) size as "the whole image"
        return np.empty((0, 0, image.shape[2]), dtype=np.uint8)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(box, target)
    crop = cv2.warpPerspective(
        image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    if crop.shape[0] >= 1.5 * crop.shape[1]:  # vertical text: lay it down
        crop = np.rot90(crop)
    return np.asarray(crop, dtype=np.uint8)


@dataclass
class _Tracker:
    """Turns the steps of a read into Progress reports (0..100 for the document)."""

    task_id: str
    pages_total: int
    report: ProgressSink
    _lines_reported: int = 0

    def _send(self, stage: Stage, page: int, within: float, message: str, **lines: int) -> None:
        share = 100 / max(self.pages_total, 1)
        progress = round(min(100.0, (max(page, 1) - 1 + within) * share), 2)
        self.report(
            Progress(self.task_id, stage, progress, message, page, self.pages_total, **lines)
        )

    def _prefix(self, page: int) -> str:
        return f"Page {page} of {self.pages_total}"

    def loading_document(self) -> None:
        self._send(
            Stage.LOADING, 0, 0.0, f"Opening the document ({_count(self.pages_total, 'page')})"
        )

    def loading_page(self, page: int) -> None:
        self._send(Stage.LOADING, page, 0.0, f"{self._prefix(page)}: preparing the page")

    def detecting(self, page: int) -> None:
        self._send(Stage.DETECTING, page, _DETECT_AT, f"{self._prefix(page)}: detecting text")

    def recognizing(self, page: int, done: int, total: int) -> None:
        step = max(1, math.ceil(total / _RECOGNIZE_REPORTS))
        if 0 < done < total and done - self._lines_reported < step:
            return
        self._lines_reported = done
        within = _RECOGNIZE_AT + (1 - _RECOGNIZE_AT) * (done / total if total else 1.0)
        if total == 0:
            message = f"{self._prefix(page)}: no text found"
        else:
            message = f"{self._prefix(page)}: recognizing text ({done} of {total} lines)"
        self._send(Stage.RECOGNIZING, page, within, message, lines_done=done, lines_total=total)

    def done(self, lines: int) -> None:
        pages = _count(self.pages_total, "page")
        message = f"Done: {_count(lines, 'line')} of text on {pages}"
        self.report(
            Progress(self.task_id, Stage.DONE, 100.0, message, self.pages_total, self.pages_total)
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _runtime_args(config: EngineConfig) -> dict[str, Any]:
    threads = max(1, config.threads)
    if config.engine == "onnxruntime":
        session = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        return {"engine": "onnxruntime", "device": config.device, "engine_config": session}
    if config.engine == "paddle":
        return {"engine": "paddle", "device": config.device, "cpu_threads": threads}
    raise ValueError(f"Unknown OCR engine {config.engine!r}; use 'onnxruntime' or 'paddle'")


def model_name(folder: str, configured: str) -> str:
    """The PaddleX name recorded in the folder's inference.yml, else `configured`.

    PaddleX refuses a name that differs from the recorded one, and settings may
    name models by their folder (PP-OCRv6_det_small for PP-OCRv6_small_det).
    """
    with open(Path(folder) / "inference.yml", encoding="utf-8") as file:
        config = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    recorded = config.get("Global", {}).get("model_name") if isinstance(config, dict) else None
    return str(recorded) if recorded else configured


def _versions(engine: str, det_name: str, rec_name: str) -> dict[str, str]:
    runtime = "onnxruntime" if engine == "onnxruntime" else "paddlepaddle"
    return {
        "paddleocr": _version("paddleocr"),
        "paddlex": _version("paddlex"),
        engine: _version(runtime),
        "det_model": det_name,
        "rec_model": rec_name,
    }


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
