"""The desktop start: `ocrlive` with no command serves on 127.0.0.1 with its data in
the user's data folder and opens the default browser ($BROWSER here, a recorder) on a
single-use sign-in link that signs the browser in as the administrator; a second
`ocrlive` on that folder opens the running one (signed in, with a fresh link) instead of
failing on the port; a second `ocrlive serve` refuses to run a second server on the
same database; a later start on the same folder signs in again, and `--no-browser`
only prints the link."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine  # each start runs the real engine in its worker

RECORDER = """#!/bin/sh
echo "$1" >> "{out}"
"""
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login\?link=\S+)")


def _env(tmp_path: Path) -> dict[str, str]:
    recorder = tmp_path / "browser.sh"
    recorder.write_text(RECORDER.format(out=tmp_path / "opened.txt"))
    recorder.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("OCRLIVE_DATA_DIR", "OCRLIVE_PORT")}
    return {**env, "XDG_DATA_HOME": str(tmp_path / "share"), "BROWSER": f"{recorder} %s",
            "OCRLIVE_WORKERS": "1", "PYTHONUNBUFFERED": "1"}  # fmt: skip


def _opened(tmp_path: Path, count: int, timeout: float = 180) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = tmp_path / "opened.txt"
        lines = path.read_text().split() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.2)
    raise TimeoutError("the browser was not opened")


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "ocrlive", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def test_desktop_start_opens_the_browser_signed_in(tmp_path: Path) -> None:
    data = tmp_path / "share" / "ocrlive"  # $XDG_DATA_HOME/ocrlive: the user's data folder
    with socket.socket() as taken:  # another program holds the default port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        env = _env(tmp_path)
        # The configured port is taken (and not demanded with --port): a desktop start
        # takes a free one instead of failing.
        first_env = {**env, "OCRLIVE_PORT": str(busy_port)}
        first = _start(first_env, tmp_path / "first.log")
        try:
            (link,) = _opened(tmp_path, 1)
            info = json.loads((data / "server.json").read_text())
            assert info["pid"] == first.pid and set(info) == {"pid", "url"}  # no secret
            assert link.startswith(info["url"] + "/login?link=") and LINK.fullmatch(link)
            assert f":{busy_port}/" not in link  # it took a free port instead
            assert _signed_in_as(link) == "admin"
            second = subprocess.run([sys.executable, "-m", "ocrlive"], env=first_env,
                                    timeout=120, capture_output=True, text=True)  # fmt: skip
            assert second.returncode == 0, second.stderr
            assert f"already running at {info['url']}/" in second.stdout
            again = _opened(tmp_path, 2)[1]
            assert again != link and again.startswith(info["url"] + "/login?link=")
            assert _signed_in_as(again) == "admin"  # the running one, signed in
            assert not _link_works(link)  # single-use
            serve = subprocess.run([sys.executable, "-m", "ocrlive", "serve"], env=first_env,
                                   timeout=120, capture_output=True, text=True)  # fmt: skip
            assert serve.returncode == 1 and "already serving this data folder" in serve.stderr
            assert first.poll() is None
        finally:
            _stop(first)
    assert not (data / "server.json").exists()  # a clean stop leaves no note behind
    assert (data / "ocrlive.db").is_file() and oct(data.stat().st_mode & 0o777) == "0o700"
    _later_start_without_browser(tmp_path, env)


def _later_start_without_browser(tmp_path: Path, env: dict[str, str]) -> None:
    """Not the first run any more: the link is for the existing administrator."""
    log = tmp_path / "later.log"
    later = _start(env, log, "--no-browser", "--port", "0")
    try:
        deadline = time.monotonic() + 180
        while not (found := LINK.search(log.read_text(errors="replace"))):
            assert later.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert _signed_in_as(found.group(1)) == "admin"
        assert len(_opened(tmp_path, 2)) == 2  # --no-browser: nothing more opened
    finally:
        _stop(later)


def _session(link: str) -> tuple[urllib.request.OpenerDirector, str]:
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with browser.open(link, timeout=30) as resp:
        assert resp.status == 200  # the link's redirect to the dashboard
        return browser, resp.url


def _signed_in_as(link: str) -> str:
    browser, landed = _session(link)
    assert landed.endswith("/") and "invalid" not in landed
    base = link.split("/login?")[0]
    with browser.open(base + "/api/session", timeout=30) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    assert body["user"]["role"] == "admin" and body["user"]["via"] == "session"
    return str(body["user"]["username"])


def _link_works(link: str) -> bool:
    _browser, landed = _session(link)
    return "link=invalid" not in landed
