"""Start-up checks of the database file, before anything opens it for writing.

A data folder whose database went missing, or whose database is damaged, must stop
`ocrlive serve` with a message an administrator can act on (restore the backup), not
with a traceback, and never by quietly creating a new, empty database beside the
stored documents.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
RESTORE = (
    "Stop ocrlive, restore ocrlive.db (with its -wal file, if the backup has one) from "
    "your most recent backup into {folder}, then start it again."
)


class DatabaseProblem(Exception):
    """The database cannot be served; the message says what to do."""


def check_database(db_path: Path, stored_dirs: tuple[Path, ...]) -> None:
    """Raise DatabaseProblem when the database is missing beside stored documents,
    is not a SQLite file, or fails SQLite's quick_check."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        _check_nothing_stored(db_path, stored_dirs)
        return
    _check_header(db_path)
    _quick_check(db_path)


def _check_nothing_stored(db_path: Path, stored_dirs: tuple[Path, ...]) -> None:
    count = sum(_count_files(folder) for folder in stored_dirs)
    if count:
        raise DatabaseProblem(
            f"The database {db_path} is missing, but the data folder holds {count} stored "
            "files (documents and page images): the database was deleted or moved. "
            + RESTORE.format(folder=db_path.parent)
            + " To start afresh instead, point --data-dir at an empty folder."
        )


def _count_files(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for path in folder.rglob("*") if path.is_file())


def _check_header(db_path: Path) -> None:
    with open(db_path, "rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise DatabaseProblem(
            f"The database {db_path} is damaged: its header is not a SQLite header. "
            + RESTORE.format(folder=db_path.parent)
        )


def _quick_check(db_path: Path) -> None:
    try:
        conn = sqlite3.connect(db_path)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    if rows != ["ok"]:
        found = "; ".join(str(row) for row in rows)[:400]
        raise DatabaseProblem(
            f"The database {db_path} is damaged (SQLite's quick_check found: {found}). "
            + RESTORE.format(folder=db_path.parent)
        )
