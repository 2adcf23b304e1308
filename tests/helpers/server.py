"""Run `ocrlive serve` as a real child process, as an administrator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ADMIN = "admin"
ADMIN_PASSWORD = "correct horse battery"


class ServerProcess:
    """`token`: the admin's personal API token, created through the CLI before the first
    start (an imported secret of at least 20 characters, or a new one when None);
    `self.token` holds it, and ADMIN / ADMIN_PASSWORD sign in through the browser."""

    def __init__(
        self, data_dir: Path, token: str | None = None, port: int | None = None, **env: str
    ) -> None:
        self.data_dir = data_dir
        self.token = token or ""
        self.port = port or free_port()
        # The port also tells `ocrlive users link` which address to print.
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "OCRLIVE_PORT": str(self.port), **env}
        self.env.pop("OCRLIVE_TOKEN", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self._log: IO[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str = "") -> str:
        """Run `ocrlive ARGS --data-dir D` as the administrator would; its stdout."""
        cmd = [sys.executable, "-m", "ocrlive", *args, "--data-dir", str(self.data_dir)]
        done = subprocess.run(cmd, env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{args}: {done.stdout} {done.stderr}")
        return done.stdout

    def add_person(self, username: str, role: str, password: str = ADMIN_PASSWORD) -> str:
        """A person with a password, and a new API token of theirs (returned)."""
        self.cli(
            "users", "add", username, "--role", role, "--password-stdin", stdin=password + "\n"
        )
        out = self.cli("tokens", "create", f"{username}-test", "--user", username)
        return out.strip().splitlines()[-1]

    def _provision(self) -> None:
        if (self.data_dir / "ocrlive.db").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.token:
            self.cli("users", "add", ADMIN, "--role", "admin", "--password-stdin",
                     stdin=ADMIN_PASSWORD + "\n")  # fmt: skip
            self.cli("tokens", "create", "tests", "--user", ADMIN, "--from-stdin",
                     stdin=self.token + "\n")  # fmt: skip
        else:
            self.token = self.add_person(ADMIN, "admin")

    def start(self, timeout: float = 120, *, provision: bool = True) -> None:
        """provision=False: a fresh install, as the first-run admin finds it."""
        if provision:
            self._provision()
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        cmd = [sys.executable, "-m", "ocrlive", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"server not healthy in {timeout}s: {self.log()}")

    def status(self) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/api/status", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body

    def wait_workers_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(w["state"] == "idle" for w in self.status()["workers"]):
                return
            time.sleep(0.2)
        raise TimeoutError(f"OCR workers not ready in {timeout}s: {self.log()}")

    def full_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server, as a crash or an out-of-memory kill would."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""
