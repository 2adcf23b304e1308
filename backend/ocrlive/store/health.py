"""Is storage answering? What counts as a storage fault, and the condition that
`/api/status` shows while one lasts.

A full disk, an I/O error, a read-only remount, a lock held past the busy timeout, a
damaged database page or a PostgreSQL server that cannot be reached are faults of the
machine, not of a request: callers answer them with 503 `storage_unavailable` and keep
running; the first success clears the condition.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from sqlalchemy.exc import DBAPIError

from ocrlive.errors import StorageUnavailable
from ocrlive.events import utcnow

log = logging.getLogger(__name__)

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
# IntegrityError, ProgrammingError, InterfaceError... are our bugs, not the disk's.
# PostgreSQL's OperationalError: the server cannot be reached, shuts down, or ended the
# connection (AdminShutdown is one).
_SQLITE_FAULTS = (sqlite3.OperationalError, psycopg.OperationalError)


def is_storage_error(exc: BaseException) -> bool:
    if isinstance(exc, StorageUnavailable):  # raised by the PostgreSQL backend itself
        return True
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_ERRNOS
    if isinstance(exc, _SQLITE_FAULTS):
        return True
    # "database disk image is malformed" / "file is not a database": plain DatabaseError.
    return type(exc) is sqlite3.DatabaseError


def describe_error(exc: BaseException) -> str:
    """One line for the log and /api/status, without a traceback."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a storage fault raised inside into StorageUnavailable (503)."""
    try:
        yield
    except StorageUnavailable:
        raise
    except Exception as exc:
        if is_storage_error(exc):
            raise StorageUnavailable() from exc
        raise


@dataclass
class StorageHealth:
    """The storage condition: ok, or the last fault and since when."""

    error: str | None = None
    since: str | None = None
    failures: int = 0
    last_ok: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def failed(self, where: str, exc: BaseException) -> None:
        text = describe_error(exc)
        if self.error is None:
            self.since = utcnow()
            log.error("storage fault in %s: %s (serving on; will recover when it answers)",
                      where, text)  # fmt: skip
        self.error = f"{where}: {text}"
        self.failures += 1

    def recovered(self) -> None:
        if self.error is not None:
            log.warning("storage answers again after %d failure(s) since %s",
                        self.failures, self.since)  # fmt: skip
            self.error, self.since = None, None
        self.last_ok = utcnow()

    def describe(self) -> dict[str, object]:
        return {"ok": self.ok, "error": self.error, "since": self.since,
                "failures": self.failures}  # fmt: skip
