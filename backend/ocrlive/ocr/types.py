"""Plain, picklable values that cross the worker-process boundary."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, Protocol, TypedDict

from ocrlive.events import Stage, TaskErrorCode


@dataclass(frozen=True)
class EngineConfig:
    """How each worker builds its PaddleOCR engine (see ocrlive.settings)."""

    engine: str  # "onnxruntime" or "paddle"
    det_model_dir: str
    rec_model_dir: str
    det_model_name: str
    rec_model_name: str
    threads: int  # intra-op threads per worker; workers x threads = cores
    # Detection input: PaddleOCR's pipeline defaults (64/"min": pages are read at their
    # own resolution), which is what its measured recall on real scans assumes.
    # "max"/1600 (longest side scaled down to 1600 px) is ~2x faster on A4 at 200 dpi
    # and ~7x on 12 MP photos, with the same recall on our drawn pages but untested on
    # real scans; OCRLIVE_DET_LIMIT_TYPE/_SIDE_LEN choose it.
    det_limit_side_len: int = 64
    det_limit_type: str = "min"
    # One line per run: on CPU, padding lines to a batch's widest costs more
    # than batching saves (measured with 1 and 2 threads).
    rec_batch_size: int = 1
    # Chosen with scripts/bench_quality.py --sweep; see ocrlive.ocr.engine.
    det_box_thresh: float = 0.5
    rec_space_thresh: float = 0.05
    # Turn pages that arrive sideways or upside down (ocrlive.ocr.orientation).
    page_orientation: bool = True
    pdf_dpi: int = 200
    max_pages: int = 50
    max_pixels: int = 60_000_000
    # "cpu", or "gpu:N" for ONNX Runtime's CUDA provider (a Dask worker started with --gpu).
    device: str = "cpu"
    read_pixels: int = 8_000_000  # pages above are scaled down to it: bounds worker memory


# What a re-run may change (POST /api/tasks/{id}/rerun, docs/protocol.md): the public
# name, EngineConfig's field, its type and the range it accepts.
READ_SETTINGS: dict[str, tuple[str, type, tuple[Any, ...]]] = {
    "box_threshold": ("det_box_thresh", float, (0.05, 0.95)),
    "space_threshold": ("rec_space_thresh", float, (0.0, 1.0)),
    "orientation": ("page_orientation", bool, ()),
    "detection_side": ("det_limit_side_len", int, (32, 4000)),
    "detection_limit": ("det_limit_type", str, ("min", "max")),
}


def _valid(name: str, value: Any) -> bool:
    _, kind, allowed = READ_SETTINGS[name]
    if kind is str:
        return value in allowed
    if kind is bool or isinstance(value, bool):  # JSON's true is no number
        return kind is bool and isinstance(value, bool)
    number = isinstance(value, int) or (kind is float and isinstance(value, float))
    return number and bool(allowed[0] <= value <= allowed[1])  # NaN is refused here


def _setting_rule(name: str) -> str:
    _, kind, allowed = READ_SETTINGS[name]
    if kind is str:
        return "one of " + ", ".join(allowed)
    if kind is bool:
        return "true or false"
    noun = "a whole number" if kind is int else "a number"
    return f"{noun} from {allowed[0]} to {allowed[1]}"


@dataclass(frozen=True)
class ReadSettings:
    """Engine settings chosen for one reading of one document (a re-run); the ones not
    given are the server's (EngineConfig). Picklable: they travel with the job."""

    values: tuple[tuple[str, Any], ...] = ()  # (public name, value), sorted

    @classmethod
    def parse(cls, data: object) -> ReadSettings:
        """From a request's JSON object; raises InvalidSettings naming the first fault."""
        from ocrlive.errors import InvalidSettings

        if not isinstance(data, dict):
            raise InvalidSettings("settings must be an object")
        for name, value in data.items():
            if name not in READ_SETTINGS:
                known = ", ".join(READ_SETTINGS)
                raise InvalidSettings(f"Unknown setting {name!r}; known: {known}")
            if not _valid(name, value):
                raise InvalidSettings(f"{name} must be {_setting_rule(name)}")
        return cls(tuple(sorted(data.items())))

    def to_json(self) -> dict[str, Any]:
        return dict(self.values)

    def applied(self, config: EngineConfig) -> EngineConfig:
        changes = {READ_SETTINGS[name][0]: value for name, value in self.values}
        return replace(config, **changes)


@dataclass(frozen=True)
class OcrJob:
    """One document to read. `pages_dir` (the run's own folder) receives page-N.png for
    the viewer."""

    task_id: str
    path: str
    pages_dir: str
    settings: ReadSettings = ReadSettings()


@dataclass(frozen=True)
class PageJob:
    """One page of a document, read on its own: the Dask executor's unit of work.
    The document's bytes travel beside it (fetched once per worker, not per page)."""

    task_id: str
    number: int  # 1-based
    pages_total: int
    settings: ReadSettings = ReadSettings()


@dataclass(frozen=True)
class Progress:
    """A step inside one document, as the engine reports it."""

    task_id: str
    stage: Stage  # loading | detecting | recognizing | done
    progress: float  # 0..100 for the whole document
    message: str  # readable by a clinician
    page: int  # 1-based page being worked on (0 before the first)
    pages_total: int
    lines_done: int = 0
    lines_total: int = 0


@dataclass(frozen=True)
class OcrLine:
    text: str
    score: float
    box: list[list[float]]  # four [x, y] corners, clockwise from top-left


@dataclass(frozen=True)
class OcrPage:
    number: int  # 1-based
    width: int
    height: int
    lines: list[OcrLine] = field(default_factory=list)
    # Clockwise degrees (0, 90, 180, 270) the page was turned to read it upright;
    # width, height, boxes and the stored page image are those of the turned page.
    rotation: int = 0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class LineJson(TypedDict):
    text: str
    score: float
    box: list[list[float]]
    # Set when a person reviewed the line (records/revisions.py): what the engine read,
    # "corrected" or "confirmed", the revision that made the change, who and when.
    ocr_text: NotRequired[str]
    reviewed: NotRequired[str]
    revision: NotRequired[int]
    reviewed_by: NotRequired[str]
    reviewed_at: NotRequired[str]


class PageJson(TypedDict):
    number: int
    width: int
    height: int
    rotation: int  # clockwise degrees the page was turned to read it upright
    text: str
    lines: list[LineJson]
    image_url: NotRequired[str]  # by the runner: /api/tasks/{id}/pages/{n}.png?run={run}


class OcrResultJson(TypedDict):
    text: str
    score: float
    engine: dict[str, Any]
    pages: list[PageJson]


class TaskResult(OcrResultJson):
    """GET /api/tasks/{id}/result, as stored. `run`: the run that read it (the seq of
    its task.started event), whose folder holds its page images; results stored before
    runs had folders have none (records/page_images.py)."""

    task_id: str
    run: NotRequired[int]


@dataclass(frozen=True)
class OcrResult:
    pages: list[OcrPage]
    engine: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)

    def to_json(self) -> OcrResultJson:
        lines = [line for page in self.pages for line in page.lines]
        score = sum(line.score for line in lines) / len(lines) if lines else 0.0
        pages = [_page_json(page) for page in self.pages]
        return {"text": self.text, "score": round(score, 4), "engine": self.engine, "pages": pages}


def _page_json(page: OcrPage) -> PageJson:
    lines: list[LineJson] = [
        {"text": ln.text, "score": round(ln.score, 4), "box": ln.box} for ln in page.lines
    ]
    return {"number": page.number, "width": page.width, "height": page.height,
            "rotation": page.rotation, "text": page.text, "lines": lines}  # fmt: skip


class OcrFailure(Exception):
    """A document that cannot be read. `code` is part of the public API."""

    def __init__(self, code: TaskErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (OcrFailure, (self.code, self.message))


class TaskCancelled(Exception):
    """Raised inside the worker when the parent asked to stop this task."""


class ProgressSink(Protocol):
    """What the engine calls at each step. May raise TaskCancelled."""

    def __call__(self, progress: Progress) -> None: ...
