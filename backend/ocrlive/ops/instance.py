"""One server per data folder: a lock held while serving and a note saying where.

A second `ocrlive` on the same folder finds the lock taken, reads `server.json` (its
pid and address; no secret) and opens that server instead of failing on the port; a
second `ocrlive serve` refuses to start a second server on the same database. The
kernel drops the lock when the process dies, so a crashed server never blocks the
next start.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

LOCK_NAME = "server.lock"
INFO_NAME = "server.json"


class AlreadyRunning(RuntimeError):
    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(f"ocrlive is already serving this data folder at {info.get('url')}")
        self.info = info


@dataclass
class Instance:
    data_dir: Path
    _lock: IO[str] | None = None

    @property
    def info_path(self) -> Path:
        return self.data_dir / INFO_NAME

    def acquire(self) -> None:
        """Take the folder's lock or raise AlreadyRunning with the running server's note."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.data_dir / LOCK_NAME).open("a")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise AlreadyRunning(self.read_info()) from None
        self._lock = lock

    def read_info(self) -> dict[str, Any]:
        try:
            info: dict[str, Any] = json.loads(self.info_path.read_text())
            return info
        except (OSError, ValueError):
            return {}

    def running_url(self) -> str | None:
        """The address of the server holding this folder now (None: none does; a note
        left by a killed server is ignored, its lock went with it)."""
        try:
            probe = (self.data_dir / LOCK_NAME).open("r")
        except OSError:
            return None
        with probe:
            try:
                fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                url = self.read_info().get("url")
                return str(url) if url else None
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
            return None

    def announce(self, url: str) -> None:
        """Written once the port is bound (the port may be a free one the OS chose)."""
        info = {"pid": os.getpid(), "url": url}
        partial = self.info_path.with_suffix(".partial")
        partial.touch(mode=0o600)
        partial.write_text(json.dumps(info))
        os.replace(partial, self.info_path)

    def release(self) -> None:
        if self._lock is not None:
            self.info_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None
