"""Build hooks that make the wheel the whole app (everything else is in pyproject.toml).

`python -m build` builds an sdist from the checkout, then the wheel from that sdist:
- the dashboard: compiled with npm when the checkout has `frontend/` (the sdist carries
  the result, so installing needs no Node);
- the Alembic migrations: the top-level `migrations/` copied into `ocrlive/migrations`;
- the PP-OCRv6 small ONNX models: copied into `ocrlive/bundled_models` from the rapidocr
  wheel (installed, or fetched with `pip download --no-deps`, which a warm cache
  answers offline), so that `ocrlive models` lays them out with no download and without
  rapidocr, whose OpenCV would clash with PaddleOCR's.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "backend" / "ocrlive" / "static" / "dist"
RAPIDOCR = "rapidocr==3.10.0"
# The text-line orientation classifier turns pages upright (ocrlive.ocr.orientation).
MODEL_FILES = (
    "PP-OCRv6_det_small.onnx",
    "PP-OCRv6_rec_small.onnx",
    "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
)


def _newest_mtime(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0.0)


def ensure_dashboard() -> None:
    """Compile the dashboard when the sources are newer than the build (checkout only)."""
    manifest = DIST / ".vite" / "manifest.json"
    frontend = ROOT / "frontend"
    if (frontend / "package.json").is_file():
        sources = max(_newest_mtime(frontend / "src"), (frontend / "package.json").stat().st_mtime)
        if not manifest.is_file() or manifest.stat().st_mtime < sources:
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("the dashboard is not built and npm is missing (apt nodejs npm)")
            if not (frontend / "node_modules").exists():
                subprocess.run([npm, "--prefix", str(frontend), "ci", "--no-audit"], check=True)
            subprocess.run([npm, "--prefix", str(frontend), "run", "build"], check=True)
    if not manifest.is_file():
        raise SystemExit(f"{manifest} is missing: build the dashboard first")


def _models_from_rapidocr_wheel(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, RAPIDOCR]
        subprocess.run(cmd, check=True)
        wheel = next(Path(tmp).glob("rapidocr-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in MODEL_FILES:
                with (
                    archive.open(f"rapidocr/models/{name}") as src,
                    (target / name).open("wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)


def bundle_models(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    source = os.environ.get("OCRLIVE_MODELS_SOURCE")
    spec = importlib.util.find_spec("rapidocr")
    if source is None and spec is not None and spec.submodule_search_locations:
        source = str(Path(next(iter(spec.submodule_search_locations))) / "models")
    if source is not None and all((Path(source) / n).is_file() for n in MODEL_FILES):
        for name in MODEL_FILES:
            shutil.copyfile(Path(source) / name, target / name)
        return
    _models_from_rapidocr_wheel(target)


class BuildPy(build_py):
    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:
            ensure_dashboard()
        super().run()
        if editable:
            return  # an editable install reads the checkout's migrations and its models dir
        # Copied whole: package_data's globs skip the hidden `.vite/manifest.json`.
        package = Path(self.build_lib) / "ocrlive"
        shutil.copytree(ROOT / "backend" / "ocrlive" / "static", package / "static",
                        dirs_exist_ok=True)  # fmt: skip
        migrations = package / "migrations"
        shutil.rmtree(migrations, ignore_errors=True)
        shutil.copytree(ROOT / "migrations", migrations,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        bundle_models(package / "bundled_models")


class Sdist(sdist):
    def run(self) -> None:
        ensure_dashboard()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
