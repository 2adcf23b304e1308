"""The wheel is the whole app: built with `python -m build` (sdist, then the wheel from
it), installed with pip into a fresh virtualenv in a temporary folder, run from there
with no checkout on sys.path, no Node and no git; it lays out its models from itself,
serves the compiled dashboard, and reads a real document through the API.

Installing uses the same interpreter and pip's cache (warm here, and in CI after
scripts/install.sh), without byte-compiling: ~25 s instead of ~70 s."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.drawing import draw_page, sample_lines, word_recall
from tests.helpers.server import free_port

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    return next(out.glob("ocrlive-*.whl"))


@pytest.fixture(scope="session")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("app") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    # clean_env: with the checkout on PYTHONPATH pip would find ocrlive "installed".
    subprocess.run([sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"),
                    "install", "-q", "--no-compile", str(wheel)], check=True,
                   env=clean_env())  # fmt: skip
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (the checkout) and no OCRLIVE_* settings of the test run."""
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith("OCRLIVE_")}  # fmt: skip
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def test_wheel_carries_dashboard_migrations_and_models(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "ocrlive/static/dist/.vite/manifest.json" in names
    assert any(re.match(r"ocrlive/static/dist/assets/main-.*\.js$", n) for n in names)
    assert "ocrlive/migrations/env.py" in names
    assert "ocrlive/migrations/versions/0001_initial.py" in names
    for model in ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"):
        assert f"ocrlive/bundled_models/{model}" in names


def test_installed_package_is_not_the_checkout(venv: Path) -> None:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import ocrlive, sys; print(ocrlive.__file__); print(sys.path)"],
                         cwd=venv.parent, env=clean_env(), capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.startswith(str(venv)) and str(ROOT) not in out


def ocrlive(venv: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run([str(venv / "bin" / "ocrlive"), *args], input=stdin, text=True,
                          capture_output=True, cwd=venv.parent, env=clean_env(),
                          check=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def app_server(venv: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """`ocrlive serve` from the virtualenv, and a personal API token made with its CLI."""
    data, log = venv.parent / "data", venv.parent / "server.log"
    ocrlive(venv, "users", "add", "admin", "--role", "admin", "--password-stdin",
            "--data-dir", str(data), stdin="correct horse battery staple\n")  # fmt: skip
    out = ocrlive(venv, "tokens", "create", "wheel", "--user", "admin", "--data-dir", str(data))
    token = out.strip().splitlines()[-1]
    port = free_port()
    cmd = [str(venv / "bin" / "ocrlive"), "serve", "--port", str(port),
           "--data-dir", str(data), "--workers", "1"]  # fmt: skip
    with log.open("wb") as stream:
        proc = subprocess.Popen(cmd, cwd=venv.parent, env=clean_env(), stdout=stream,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_serving(log, proc)
        yield f"http://127.0.0.1:{port}", token, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def _wait_serving(log: Path, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "serving on" in log.read_text(errors="replace"):
            return
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.2)
    raise TimeoutError(log.read_text(errors="replace"))


async def test_installed_app_reads_a_document(
    app_server: tuple[str, str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    base, token, proc = app_server
    lines = sample_lines(10, seed=7)
    page = tmp_path / "letter.png"
    draw_page(lines).save(page)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.get(base + "/") as resp:
            html = await resp.text()
        asset = re.search(r'src="(/static/dist/assets/main-[^"]+\.js)"', html)
        assert asset is not None, html[:500]
        async with session.get(base + asset.group(1)) as resp:
            assert resp.status == 200  # the compiled dashboard, from the wheel
        form = aiohttp.FormData()
        form.add_field("patient_id", "P-4711")
        form.add_field("document_type", "referral_letter")
        form.add_field("file", page.read_bytes(), filename=page.name)
        async with session.post(f"{base}/api/tasks", data=form) as resp:
            assert resp.status == 202, await resp.text()
            created = (await resp.json())["task"]
        task = await _until_finished(session, f"{base}/api/tasks/{created['id']}")
        assert task["status"] == "completed", task
        async with session.get(f"{base}/api/tasks/{created['id']}/result") as resp:
            result = await resp.json()
    assert word_recall("\n".join(lines), result["text"]) > 0.9
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


async def _until_finished(session: aiohttp.ClientSession, url: str) -> dict[str, object]:
    import asyncio

    for _ in range(600):
        async with session.get(url) as resp:
            task: dict[str, object] = (await resp.json())["task"]
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
        await asyncio.sleep(0.5)
    raise TimeoutError(task)
