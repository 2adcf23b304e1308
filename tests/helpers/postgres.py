"""A throwaway PostgreSQL cluster: initdb into a temporary folder, pg_ctl on a free
port, the socket in that folder too. PostgreSQL refuses to run as root, so as root
(here and in CI) the server runs as the `postgres` user that Debian's package makes."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.helpers.server import free_port

USER = "ocrlive"
PASSWORD = "ocrlive-test"  # loopback only, a cluster that lives for one test run


def pg_bin() -> Path:
    """Debian's newest PostgreSQL server binaries (/usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if not found:
        raise FileNotFoundError("no PostgreSQL server: apt-get install postgresql")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parts[-3])


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="ocrlive-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as_user = _drop_to("postgres") if os.geteuid() == 0 else None

    def url(self, driver: str = "postgresql+psycopg", database: str = "ocrlive") -> str:
        return f"{driver}://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(args, check=True, capture_output=True, env=env, preexec_fn=self._as_user)

    def start(self) -> None:
        if self._as_user is not None:
            shutil.chown(self.folder, "postgres", "postgres")
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD)
        if self._as_user is not None:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A",
                  "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")  # fmt: skip
        self.start_server()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", USER, "-w", "ocrlive")  # fmt: skip

    def start_server(self) -> None:
        """Start (or start again, on the same port) the server of the initialized cluster."""
        self.pg_ctl("start", "-w", "-t", "60", "-l", str(self.folder / "server.log"), "-o",
                    f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off -c max_connections=300")  # fmt: skip

    def stop_server(self) -> None:
        """A clean but abrupt stop (-m fast: sessions are disconnected), as a restart does."""
        self.pg_ctl("stop", "-m", "fast", "-w", "-t", "60")

    def create_database(self) -> str:
        """A new empty database; its URL (SQLAlchemy's form, psycopg 3)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgresql"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(database=name)

    def drop_database(self, url: str) -> None:
        """After a test: a run makes ~150 databases of ~8 MB each (sessions still open,
        a node's pool or LISTEN, are ended: FORCE)."""
        name = url.rsplit("/", 1)[-1]
        with psycopg.connect(self.url("postgresql"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # never started, or stopped
            self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _drop_to(user: str) -> Callable[[], None]:
    entry = pwd.getpwnam(user)

    def drop() -> None:
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        os.environ["HOME"] = entry.pw_dir

    return drop
