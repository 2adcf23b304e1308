"""OCR quality: ocrlive's engine against PaddleOCR's own pipeline, same models, one run.

Drawn forms and letters (tests/helpers/forms.py: office fonts at 10-15 pt, 200 dpi)
under each degradation (clean, noise, blur, JPEG, low contrast, skew, stamp and pen
lines, tightly set words), each turned to 0, 90, 180 and 270 degrees, are read by
(a) ocrlive's Engine with its default settings and (b) PaddleOCR's OCR pipeline with
its defaults and the same PP-OCRv6 small models (document orientation and unwarping
off: their models would need a download). Prints word recall, word precision and
character error rate per degradation and orientation, and the totals.

    .venv/bin/python scripts/bench_quality.py               # 8 pages x 4 turns x 2 readers
    .venv/bin/python scripts/bench_quality.py --sweep       # choose the thresholds
    .venv/bin/python scripts/bench_quality.py --speed       # what the defaults cost

--sweep reads the upright pages once per detection box threshold and decodes every
line at each space threshold (ocrlive.ocr.decoding), to choose the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THREADS = max(1, min(2, os.cpu_count() or 1))
os.environ.update({name: str(THREADS) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})

import numpy as np  # noqa: E402
from tests.helpers.forms import DEGRADATIONS, DrawnPage, realistic_page, turned  # noqa: E402
from tests.helpers.scoring import Score  # noqa: E402

from ocrlive.ocr import engine as engine_module  # noqa: E402
from ocrlive.ocr.decoding import SpaceAwareCTCDecode, decode_line  # noqa: E402
from ocrlive.ocr.engine import Engine, sort_quads  # noqa: E402
from ocrlive.ocr.models import DET_MODEL_NAME, REC_MODEL_NAME, provision_models  # noqa: E402
from ocrlive.ocr.types import EngineConfig, OcrJob, Progress  # noqa: E402

TURNS = (0, 90, 180, 270)


def pages(count: int) -> list[tuple[str, DrawnPage]]:
    """`count` pages per degradation, forms and letters alternating."""
    out = []
    for d, name in enumerate(DEGRADATIONS):
        for n in range(count):
            kind = "form" if (d + n) % 2 == 0 else "letter"
            out.append((name, realistic_page(kind, name, seed=100 * d + n)))
    return out


def engine_config(models: Path, **changes: Any) -> EngineConfig:
    config = EngineConfig(
        engine="onnxruntime", det_model_dir=str(models / "PP-OCRv6_det_small"),
        rec_model_dir=str(models / "PP-OCRv6_rec_small"), det_model_name=DET_MODEL_NAME,
        rec_model_name=REC_MODEL_NAME, threads=THREADS,
    )  # fmt: skip
    return replace(config, **changes)


def paddleocr_pipeline(config: EngineConfig) -> Any:
    from paddleocr import PaddleOCR

    return PaddleOCR(
        text_detection_model_name=DET_MODEL_NAME, text_detection_model_dir=config.det_model_dir,
        text_recognition_model_name=REC_MODEL_NAME, text_recognition_model_dir=config.rec_model_dir,
        use_doc_orientation_classify=False, use_doc_unwarping=False,
        use_textline_orientation=False, engine="onnxruntime", device="cpu",
        engine_config={"intra_op_num_threads": THREADS, "inter_op_num_threads": 1},
    )  # fmt: skip


def _ignore(progress: Progress) -> None:
    pass


class _Timed:
    """Wraps ocrlive's page_rotation to add up the time it takes."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._rotation = engine_module.page_rotation

    def __call__(self, *args: Any) -> int:
        start = time.perf_counter()
        try:
            return self._rotation(*args)
        finally:
            self.seconds += time.perf_counter() - start


def compare(models: Path, count: int, work: Path) -> dict[str, Any]:
    """Both readers on every page at every turn; scores keyed reader/degradation/turn."""
    engine, pipeline = Engine(engine_config(models)), paddleocr_pipeline(engine_config(models))
    timed = engine_module.page_rotation = _Timed()  # type: ignore[assignment]
    scores: dict[str, Score] = {}
    seconds = {"ocrlive": 0.0, "paddleocr": 0.0, "ocrlive_upright": 0.0, "orientation_upright": 0.0}
    for i, (degradation, page) in enumerate(pages(count)):
        for turn in TURNS:
            path = work / f"page-{i}-{turn}.png"
            turned(page.image, turn).save(path)
            start, orienting = time.perf_counter(), timed.seconds
            ours = engine.read(OcrJob(f"q{i}", str(path), str(work / "pages")), _ignore).text
            seconds["ocrlive"] += time.perf_counter() - start
            if turn == 0:
                seconds["ocrlive_upright"] += time.perf_counter() - start
                seconds["orientation_upright"] += timed.seconds - orienting
            start = time.perf_counter()
            theirs = "\n".join(pipeline.predict(str(path))[0]["rec_texts"])
            seconds["paddleocr"] += time.perf_counter() - start
            for reader, text in (("ocrlive", ours), ("paddleocr", theirs)):
                for key in (f"{degradation}/{turn}", f"all/{turn}", "all/all"):
                    scores.setdefault(f"{reader}/{key}", Score()).add(page.text, text)
    return {"scores": scores, "seconds": seconds}


def print_comparison(result: dict[str, Any]) -> None:
    scores: dict[str, Score] = result["scores"]
    print(f"{'degradation':13} {'turn':>4} | ocrlive recall prec.  CER  | PaddleOCR", end="")
    print(" recall prec.  CER")
    keys = sorted({k.split("/", 1)[1] for k in scores}, key=lambda k: (k.startswith("all"), k))
    for key in keys:
        degradation, turn = key.split("/")
        row = [f"{degradation:13} {turn:>4} |"]
        for reader in ("ocrlive", "paddleocr"):
            s = scores[f"{reader}/{key}"]
            row.append(f"{s.recall:14.3f} {s.precision:5.3f} {s.cer:5.3f} |")
        print(" ".join(row).rstrip("|"))
    seconds = result["seconds"]
    print(f"seconds reading: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
    share = seconds["orientation_upright"] / max(seconds["ocrlive_upright"], 1e-9)
    print(f"orientation on upright pages: {share:.1%} of ocrlive's reading time")


# --- --speed: what decoding, box threshold and orientation cost ---------------------


def speed(models: Path, count: int, work: Path) -> None:
    """Upright pages read alternately by ocrlive's defaults and by ocrlive set up as
    PaddleOCR's pipeline (box 0.6, greedy decoding, no orientation): same process,
    same load, so the ratio holds on a busy machine."""
    plain = Engine(
        engine_config(models, det_box_thresh=0.6, rec_space_thresh=0.0, page_orientation=False)
    )
    ours = Engine(engine_config(models))
    timed = engine_module.page_rotation = _Timed()  # type: ignore[assignment]
    seconds = {"defaults": 0.0, "paddleocr_settings": 0.0}
    for i, (_, page) in enumerate(pages(count)):
        path = work / f"speed-{i}.png"
        page.image.save(path)
        readers = [("defaults", ours), ("paddleocr_settings", plain)]
        for name, engine in readers if i % 2 == 0 else readers[::-1]:  # neither always first
            start = time.perf_counter()
            engine.read(OcrJob(f"s{i}", str(path), str(work / "pages")), _ignore)
            seconds[name] += time.perf_counter() - start
    ratio = seconds["paddleocr_settings"] / seconds["defaults"]
    print(f"seconds: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}")
    print(f"pages/s, defaults vs PaddleOCR's settings: {ratio:.3f}")
    print(f"orientation: {timed.seconds / seconds['defaults']:.1%} of the defaults' reading time")


# --- --sweep: the thresholds ------------------------------------------------------


class _Recorder(SpaceAwareCTCDecode):
    """Decodes greedily and keeps each line's argmax, its probability and P(space)."""

    lines: list[tuple[Any, Any, Any]]

    def __call__(self, pred: Any, return_word_box: bool = False, **kwargs: Any) -> Any:
        preds = np.asarray(pred[0])
        indices = preds.argmax(axis=-1)
        probs = np.take_along_axis(preds, indices[..., None], axis=-1)[..., 0]
        for i in range(preds.shape[0]):
            self.lines.append((indices[i], probs[i], preds[i, :, -1]))
        return super().__call__(pred, return_word_box, **kwargs)


def sweep(models: Path, count: int, box_threshs: list[float], space_threshs: list[float]) -> None:
    from ocrlive.ocr.engine import minarea_rect_crop

    engine = Engine(engine_config(models, rec_space_thresh=0.0))
    post = engine._rec.paddlex_predictor.post_op
    recorder = _Recorder(post.character[1:-1], 0.0)
    engine._rec.paddlex_predictor.post_op = recorder
    cache: dict[bytes, tuple[Any, Any, Any]] = {}
    scores: dict[tuple[float, float, str], Score] = {}
    for degradation, page in pages(count):
        bgr = np.ascontiguousarray(np.asarray(page.image)[:, :, ::-1])
        for box in box_threshs:
            found = next(iter(engine._det.predict_iter(bgr, box_thresh=box, max_side_limit=4000)))
            lines = []
            for quad in sort_quads(found["dt_polys"]):
                key = np.asarray(quad).tobytes()
                if key not in cache:
                    crop = minarea_rect_crop(bgr, quad)
                    recorder.lines = []
                    list(engine._rec.predict_iter([crop], batch_size=1))
                    cache[key] = recorder.lines[0]
                lines.append(cache[key])
            for space in space_threshs:
                text = "\n".join(decode_line(*line, recorder.character, space)[0] for line in lines)
                for name in (degradation, "all"):
                    scores.setdefault((box, space, name), Score()).add(page.text, text)
    print(f"{'box':>4} {'space':>5} {'degradation':13} recall prec.  CER")
    for (box, space, name), s in sorted(scores.items()):
        print(f"{box:4.2f} {space:5.3f} {name:13} {s.recall:.3f}  {s.precision:.3f} {s.cer:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1, help="pages per degradation")
    parser.add_argument("--sweep", action="store_true", help="score threshold pairs instead")
    parser.add_argument("--speed", action="store_true", help="time the defaults instead")
    parser.add_argument("--box", type=float, nargs="+", default=[0.6, 0.5, 0.4])
    parser.add_argument("--space", type=float, nargs="+", default=[0, 0.02, 0.05, 0.1, 0.2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = provision_models(Path(tmp) / "models")["det"].parent
        if args.sweep:
            sweep(models, args.pages, args.box, args.space)
        elif args.speed:
            speed(models, args.pages, Path(tmp))
        else:
            print_comparison(compare(models, args.pages, Path(tmp)))


if __name__ == "__main__":
    main()
