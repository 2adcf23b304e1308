#!/usr/bin/env python3
"""Lay out the PP-OCRv6 small ONNX models (from the rapidocr wheel) for PaddleOCR.

Usage: scripts/provision_models.py [--models-dir DIR]   (offline, idempotent)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Provision the OCR models for PaddleOCR.")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("OCRLIVE_MODELS_DIR") or REPO / "models"),
        help="where to create the model folders (default: $OCRLIVE_MODELS_DIR or ./models)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from ocrlive.ocr.models import ProvisioningError, provision_models

    try:
        folders = provision_models(args.models_dir)
    except ProvisioningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for role, folder in folders.items():
        print(f"{role}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
