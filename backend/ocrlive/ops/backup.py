"""`ocrlive backup DEST` while serving, and `ocrlive restore SRC` onto an empty folder.

The database is copied with SQLite's online backup API, in one step: that reads one
consistent snapshot (a WAL read transaction) while the server goes on writing. Every
table comes along, whichever issue added it. Stored files are copied after the
snapshot, so every task in it has its upload (files are content-addressed and never
rewritten). A manifest with a SHA-256 per file is written last: a backup without one
is incomplete and restore refuses it.

What a backup holds, deliberately: the database (tasks, events, results, revisions,
people with their Argon2 password hashes, API tokens and sessions as SHA-256 hashes
only, the audit log) and the stored uploads and page images. What it leaves out: a
`token` file from before people signed in as themselves (#8; a plaintext secret that
nothing reads any more and that must not spread to backup media), the running
server's `server.lock` and `server.json`, the models (laid out again from the wheel),
and anything else in the folder. A restore signs everyone out: open sessions end
(`restored`) and unused sign-in links are dropped, so a cookie or link from before
the backup opens nothing on the restored server; passwords and API tokens keep
working.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocrlive import __version__
from ocrlive.settings import Settings

MANIFEST = "manifest.json"
DB_NAME = "ocrlive.db"
FORMAT = 1
# What a data folder holds besides the database (see above for what is left out).
FOLDERS = ("files", "pages")


class BackupError(RuntimeError):
    """The backup cannot be made or restored; the message says why."""


@dataclass(frozen=True)
class Copied:
    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_target(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # patient documents


def backup(settings: Settings, dest: Path) -> dict[str, Any]:
    if settings.database_url:  # a SQLite file left in the folder would be a stale copy
        raise BackupError("the database is PostgreSQL (OCRLIVE_DATABASE_URL): back it up "
                          "with pg_dump; `ocrlive backup` copies SQLite installations")  # fmt: skip
    if not settings.db_path.is_file():
        raise BackupError(f"no database at {settings.db_path}")
    _empty_target(dest)
    _snapshot_database(settings.db_path, dest / DB_NAME)
    copied = [_copied(dest, DB_NAME)]
    for rel in _data_files(settings.data_dir):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(settings.data_dir / rel, target)
        except FileNotFoundError:
            continue  # purged by retention after the snapshot: its task is gone too
        copied.append(_copied(dest, rel))
    manifest = _manifest(settings, dest / DB_NAME, copied)
    partial = dest / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2))
    os.replace(partial, dest / MANIFEST)
    return manifest


def _snapshot_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # pages=-1: the whole database from one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dst.close()
        src.close()


def _data_files(data_dir: Path) -> list[str]:
    found: list[str] = []
    for folder in FOLDERS:
        root = data_dir / folder
        if root.is_dir():
            found += sorted(str(p.relative_to(data_dir)) for p in root.rglob("*") if p.is_file())
    return found


def _copied(root: Path, rel: str) -> Copied:
    path = root / rel
    return Copied(rel, sha256_of(path), path.stat().st_size)


def _manifest(settings: Settings, db: Path, copied: list[Copied]) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]  # fmt: skip
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        conn.close()
    return {
        "format": FORMAT,
        "ocrlive": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "source_data_dir": str(settings.data_dir.resolve()),
        "schema_revision": row[0] if row else None,
        "rows": counts,
        "files": [c.to_json() for c in copied],
    }


def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a backup, or an unfinished one") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')}")
    return manifest


def verify(src: Path) -> dict[str, Any]:
    """Every file of the manifest is there with its checksum; raises BackupError."""
    manifest = read_manifest(src)
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            raise BackupError(f"{entry['path']} is missing from the backup")
        if sha256_of(path) != entry["sha256"]:
            raise BackupError(f"{entry['path']} does not match its checksum")
    return manifest


def restore(settings: Settings, src: Path) -> dict[str, Any]:
    """Onto an empty data folder; the schema is brought up to date afterwards."""
    from ocrlive.store.db import migrate

    manifest = verify(src)
    _empty_target(settings.data_dir)
    for entry in manifest["files"]:
        target = settings.data_dir / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / entry["path"], target)
    _rebase_file_paths(settings.db_path, manifest["source_data_dir"], settings.data_dir)
    migrate(settings.db_path)  # first: a backup older than people (#8) has no sessions
    _sign_everyone_out(settings.db_path)
    return manifest


def _sign_everyone_out(db: Path) -> None:
    """Sessions and unused sign-in links of the backup end with the restore."""
    now = datetime.now(UTC).isoformat()
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE sessions SET ended_at = ?, end_reason = 'restored' "
                         "WHERE ended_at IS NULL", (now,))  # fmt: skip
            conn.execute("DELETE FROM login_links WHERE used_at IS NULL")
    finally:
        conn.close()


def _rebase_file_paths(db: Path, old_dir: str, new_dir: Path) -> None:
    """Tasks keep their upload's absolute path; point them into the new folder."""
    old, new = old_dir.rstrip("/") + "/", str(new_dir.resolve()).rstrip("/") + "/"
    if old == new:
        return
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "UPDATE tasks SET file_path = ? || substr(file_path, ?) "
                "WHERE substr(file_path, 1, ?) = ?",
                (new, len(old) + 1, len(old), old),
            )
    finally:
        conn.close()
