#!/usr/bin/env python3
"""Checks the wheel from the outside, as an administrator installing it would.

Builds the wheel, installs it with pip into an empty virtualenv in a temporary folder,
runs `ocrlive --no-browser` there, reads the single-use sign-in link it prints, signs in
with it as a browser would (a session cookie), uploads a scan and gets its text; takes
`ocrlive backup` while a document is being read, restores it into another folder and
starts a second server on it (signed in through its own link) that shows the same
tasks; fetches /metrics and /api/openapi.json and validates the server's answers
against the latter.

Usage: scripts/check_install.sh [--keep] [--no-compile]
(runs this with the checkout's virtualenv: it has `build`, Pillow to draw the scan,
openapi-core)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
SCAN_LINES = ["Referral letter", "Patient admitted with chest pain",
              "Blood pressure stable", "Follow up in two weeks"]  # fmt: skip


def step(text: str) -> None:
    print(f"-- {text}", flush=True)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k != "PYTHONPATH" and not k.startswith("OCRLIVE_")}  # fmt: skip


def run(*cmd: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, capture_output=True,
                          env=kw.pop("env", clean_env()), **kw)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def draw_scan(path: Path, lines: list[str], pages: int = 1) -> Path:
    """A page as a scanner gives it: grey paper, slightly rotated, slightly blurred."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 44)
    images = []
    for n in range(pages):
        page = Image.new("L", (1654, 2339), 236)
        draw = ImageDraw.Draw(page)
        for i, line in enumerate(lines):
            draw.text((160, 200 + i * 110), f"{line} {n + 1}" if pages > 1 else line,
                      fill=25, font=font)  # fmt: skip
        images.append(page.rotate(0.7, fillcolor=236).filter(ImageFilter.GaussianBlur(0.6)))
    images[0].save(path, save_all=pages > 1, append_images=images[1:], resolution=200.0)
    return path


class Server:
    def __init__(self, venv: Path, data: Path, log: Path) -> None:
        self.port = free_port()
        cmd = [venv / "bin" / "ocrlive", "--no-browser", "--port", str(self.port),
               "--data-dir", data, "--workers", "1"]  # fmt: skip
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen([str(c) for c in cmd], cwd=venv.parent, stdout=out,
                                         stderr=subprocess.STDOUT, env=clean_env())  # fmt: skip
        self.link = self._login_link()
        self.base = self.link.split("/login?")[0]
        jar = CookieJar()
        self.browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, _, page = self.get(self.link.removeprefix(self.base))  # -> / with a cookie
        assert status == 200 and b"/static/dist/assets/main-" in page, "no dashboard"
        who = self.json("/api/session")["user"]
        assert who["via"] == "session" and who["role"] == "admin", who

    def _login_link(self, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"(http://\S+/login\?link=\S+)", self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            time.sleep(0.3)
        raise TimeoutError(self.log.read_text(errors="replace"))

    def get(self, path: str, **headers: str) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            with self.browser.open(request, timeout=60) as resp:
                return resp.status, resp.headers.get_content_type(), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get_content_type(), exc.read()

    def json(self, path: str) -> Any:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def upload(self, path: Path, document_type: str) -> dict[str, Any]:
        boundary = "ocrlive-check"
        fields = [("patient_id", "P-CHECK-1"), ("document_type", document_type)]
        body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                        f"{v}\r\n".encode() for k, v in fields)  # fmt: skip
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{path.name}"\r\n\r\n').encode() + path.read_bytes()  # fmt: skip
        body += f"\r\n--{boundary}--\r\n".encode()
        # A signed-in browser's write carries its Origin (checked against the session).
        request = urllib.request.Request(self.base + "/api/tasks", data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Origin": self.base})  # fmt: skip
        with self.browser.open(request, timeout=120) as resp:
            assert resp.status == 202
            task: dict[str, Any] = json.loads(resp.read())["task"]
            return task

    def wait(self, task_id: str, until: set[str], timeout: float = 900) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task: dict[str, Any] = self.json(f"/api/tasks/{task_id}")["task"]
            if task["status"] in until or (
                task["status"] == "processing"
                and "reading" in until
                and task["pages_done"] >= 0
                and task["progress"] > 0
            ):
                return task  # fmt: skip
            time.sleep(0.5)
        raise TimeoutError(task_id)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(120) == 0, "the server did not stop cleanly on SIGTERM"


def validate_against_openapi(server: Server, spec: dict[str, Any], paths: list[str]) -> int:
    from openapi_core import OpenAPI
    from openapi_core.testing import MockRequest, MockResponse
    from openapi_spec_validator import validate

    validate(spec)
    api = OpenAPI.from_dict(spec)
    for path in paths:
        status, content_type, body = server.get(path)
        url_path, _, query = path.partition("?")
        args = dict(p.split("=", 1) for p in query.split("&") if p)
        request = MockRequest(server.base, "get", url_path, args=args)
        api.validate_response(request, MockResponse(body, status, content_type=content_type))
    return len(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-compile", action="store_true", help="pip --no-compile (faster)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ocrlive-check-"))
    servers: list[Server] = []
    try:
        check(tmp, servers, args.no_compile)
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("check_install: everything passed")
    return 0


def check(tmp: Path, servers: list[Server], no_compile: bool) -> None:
    started = time.monotonic()
    step("python -m build")
    run(sys.executable, "-m", "build", "--outdir", tmp / "dist", ROOT)
    (wheel,) = (tmp / "dist").glob("ocrlive-*.whl")
    step(f"{wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB; pip install into an empty venv")
    run(sys.executable, "-m", "venv", tmp / "venv")
    t0 = time.monotonic()
    run(tmp / "venv" / "bin" / "pip", "install", "-q", *(["--no-compile"] if no_compile else []),
        wheel, cwd=tmp)  # fmt: skip
    step(f"installed in {time.monotonic() - t0:.0f} s; starting `ocrlive --no-browser`")
    first = Server(tmp / "venv", tmp / "data", tmp / "first.log")
    servers.append(first)
    step(f"signed in with {first.link.split('link=')[0]}link=…; uploading a scan")
    scan = first.upload(draw_scan(tmp / "scan.png", SCAN_LINES), "referral_letter")
    assert first.wait(scan["id"], {"completed", "failed"})["status"] == "completed"
    text = first.json(f"/api/tasks/{scan['id']}/result")["text"]
    found = [w for w in " ".join(SCAN_LINES).lower().split() if w in text.lower()]
    assert len(found) >= 0.8 * len(" ".join(SCAN_LINES).split()), text
    step(f"read: {text!r}")

    step("backup while a 3-page document is being read")
    tiff = first.upload(draw_scan(tmp / "long.tiff", SCAN_LINES * 3, pages=3), "lab_report")
    first.wait(tiff["id"], {"reading", "completed", "failed"})
    run(tmp / "venv" / "bin" / "ocrlive", "backup", tmp / "backup", "--data-dir", tmp / "data")
    during = first.json(f"/api/tasks/{tiff['id']}")["task"]["status"]
    step(f"backup done; the document was {during} meanwhile")
    manifest = json.loads((tmp / "backup" / "manifest.json").read_text())
    run(tmp / "venv" / "bin" / "ocrlive", "restore", tmp / "backup", "--data-dir", tmp / "restored")
    second = Server(tmp / "venv", tmp / "restored", tmp / "second.log")
    servers.append(second)
    listed = {t["id"] for t in second.json("/api/tasks?status=all")["tasks"]}
    assert listed == {scan["id"], tiff["id"]}, listed
    assert manifest["rows"]["tasks"] == 2
    assert second.json(f"/api/tasks/{scan['id']}/result")["text"] == text
    step(f"restored server shows the same {len(listed)} tasks and the same text")

    status, content_type, metrics = first.get("/metrics")
    assert (
        status == 200
        and content_type == "text/plain"
        and b'ocrlive_tasks{status="completed"}' in metrics
    ), metrics[:500]
    spec = first.json("/api/openapi.json")
    count = validate_against_openapi(first, spec, [
        "/api/health", "/api/status", "/api/tasks?status=all&limit=10", f"/api/tasks/{scan['id']}",
        f"/api/tasks/{scan['id']}/result", "/api/tasks/unknown", "/api/openapi.json",
        "/api/session", "/api/auth", "/api/users", "/api/tokens", "/api/audit?user=admin",
        "/api/search?q=referral", f"/api/tasks/{scan['id']}/revisions", "/"])  # fmt: skip
    step(f"/metrics ok; {count} answers valid against OpenAPI {spec['openapi']} "
         f"({len(spec['paths'])} paths); {time.monotonic() - started:.0f} s in all")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
