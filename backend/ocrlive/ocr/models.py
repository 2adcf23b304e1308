"""Offline provisioning of the PP-OCRv6 small ONNX models for PaddleOCR.

PaddleOCR cannot download models here, but the `rapidocr` wheel ships the
PP-OCRv6 small detection and recognition models as ONNX files. PaddleOCR
(through PaddleX) reads a model folder holding `inference.onnx` next to an
`inference.yml` that names the model and carries its pre/post-processing; we
write that file ourselves, in the layout PaddleX's own exporter produces
(`paddlex/modules/base/utils/pdparams2safetensors/inference_meta.py`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

# PaddleX refuses a folder whose inference.yml names another model, so these
# are PaddleX's names; the folder names follow rapidocr's file names.
DET_MODEL_NAME = "PP-OCRv6_small_det"
REC_MODEL_NAME = "PP-OCRv6_small_rec"
DET_DIR_NAME = "PP-OCRv6_det_small"
REC_DIR_NAME = "PP-OCRv6_rec_small"

# ImageNet statistics on BGR input, as PaddleOCR's detection models expect.
_DET_CONFIG: dict[str, Any] = {
    "PreProcess": {
        "transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetLabelEncode": None},
            {"DetResizeForTest": {"resize_long": 960}},
            {
                "NormalizeImage": {
                    "mean": [0.485, 0.456, 0.406],
                    "std": [0.229, 0.224, 0.225],
                    "scale": "1./255.",
                    "order": "hwc",
                }
            },
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
        ]
    },
    "PostProcess": {
        "name": "DBPostProcess",
        "thresh": 0.3,
        "box_thresh": 0.6,
        "max_candidates": 1000,
        "unclip_ratio": 1.5,
    },
}

_REC_PREPROCESS: dict[str, Any] = {
    "transform_ops": [
        {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
        {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
        {"RecResizeImg": {"image_shape": [3, 48, 320]}},
        {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}},
    ]
}


class ProvisioningError(RuntimeError):
    """The models cannot be provisioned (rapidocr missing, unexpected model file)."""


def provision_models(models_dir: Path) -> dict[str, Path]:
    """Create `<models_dir>/{PP-OCRv6_det_small,PP-OCRv6_rec_small}` for PaddleOCR.

    Idempotent and offline. Returns {"det": folder, "rec": folder}.
    """
    source = bundled_models_dir() or rapidocr_models_dir()
    det_dir = Path(models_dir) / DET_DIR_NAME
    rec_dir = Path(models_dir) / REC_DIR_NAME
    _install_onnx(source / f"{DET_DIR_NAME}.onnx", det_dir)
    rec_onnx = _install_onnx(source / f"{REC_DIR_NAME}.onnx", rec_dir)
    _write_yaml(det_dir / "inference.yml", det_inference_config())
    _write_yaml(rec_dir / "inference.yml", rec_inference_config(rec_onnx))
    return {"det": det_dir, "rec": rec_dir}


def bundled_models_dir() -> Path | None:
    """The ONNX files the wheel carries (copied from rapidocr by setup.py), if any."""
    folder = Path(__file__).resolve().parents[1] / "bundled_models"
    wanted = [folder / f"{name}.onnx" for name in (DET_DIR_NAME, REC_DIR_NAME)]
    return folder if all(p.is_file() for p in wanted) else None


def classifier_path(file_name: str) -> Path:
    """An extra ONNX model the wheel bundles, else the one in the rapidocr wheel."""
    bundled = Path(__file__).resolve().parents[1] / "bundled_models" / file_name
    return bundled if bundled.is_file() else rapidocr_models_dir() / file_name


def rapidocr_models_dir() -> Path:
    """The folder of ONNX models inside the installed rapidocr wheel."""
    # find_spec locates the package without importing it (and its OpenCV setup).
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ProvisioningError(
            "The rapidocr package is not installed; it carries the PP-OCRv6 ONNX "
            "models. Install it with: pip install rapidocr==3.10.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (DET_DIR_NAME, REC_DIR_NAME):
        if not (folder / f"{name}.onnx").is_file():
            raise ProvisioningError(f"{folder / name}.onnx is missing from the rapidocr wheel")
    return folder


def det_inference_config() -> dict[str, Any]:
    return {"Global": {"model_name": DET_MODEL_NAME}, **_DET_CONFIG}


def rec_inference_config(onnx_path: Path) -> dict[str, Any]:
    return {
        "Global": {"model_name": REC_MODEL_NAME},
        "PreProcess": _REC_PREPROCESS,
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": read_rec_dictionary(onnx_path)},
    }


def read_rec_dictionary(onnx_path: Path) -> list[str]:
    """The recognition alphabet stored in the ONNX file's `character` metadata."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    raw: str | None = session.get_modelmeta().custom_metadata_map.get("character")
    if not raw:
        raise ProvisioningError(f"{onnx_path} carries no 'character' metadata")
    characters = raw.split("\n")
    # CTC output = blank + dictionary + space: a mismatch would shift every letter.
    classes = session.get_outputs()[0].shape[-1]
    if isinstance(classes, int) and classes != len(characters) + 2:
        raise ProvisioningError(
            f"{onnx_path}: {len(characters)} characters do not fit {classes} output classes"
        )
    return characters


def _install_onnx(source: Path, folder: Path) -> Path:
    target = folder / "inference.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    if target.is_file() and _same_file(source, target):
        log.info("%s is up to date", target)
        return target
    partial = target.with_suffix(".onnx.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
        how = "linked"
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(source, partial)
        how = "copied"
    os.replace(partial, target)
    log.info("%s %s -> %s", how, source, target)
    return target


def _same_file(a: Path, b: Path) -> bool:
    if os.path.samefile(a, b):
        return True
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while chunk := fa.read(1 << 20):
            if chunk != fb.read(len(chunk)):
                return False
    return True


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        log.info("%s is up to date", path)
        return
    partial = path.with_suffix(".yml.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    log.info("wrote %s", path)
